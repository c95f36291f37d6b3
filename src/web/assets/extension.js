// Starts @pipedrive/app-extensions-sdk on a page the CRM opens in its iframe. The CRM hides
// the iframe unless this happens within 10 seconds, so it runs as soon as it is loaded.
// The page follows the CRM's theme: the `theme` of its address, then the CRM's changes.
(function () {
  var script = document.currentScript;
  var id = script && script.getAttribute("data-sdk-id");
  var root = document.documentElement;
  var theme = function (t) { root.setAttribute("data-theme", t === "dark" ? "dark" : "light"); };
  theme(new URLSearchParams(window.location.search).get("theme"));
  if (!id || typeof AppExtensionsSDK === "undefined") {
    return; // opened outside the CRM
  }
  try {
    var sdk = new AppExtensionsSDK({ identifier: id });
    theme(sdk.userSettings.theme);
    sdk.listen("user_settings_change", function (event) {
      theme(event && event.data && event.data.theme);
    });
    sdk.initialize().catch(function () {});
    window.ConciergeSdk = sdk;
  } catch (e) {
    // Not inside the CRM's frame: the page works without the SDK.
  }
})();
