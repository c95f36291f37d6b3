// Starts @pipedrive/app-extensions-sdk on a page the CRM opens in its iframe. The CRM hides
// the iframe unless this happens within 10 seconds, so it runs as soon as it is loaded.
(function () {
  var script = document.currentScript;
  var id = script && script.getAttribute("data-sdk-id");
  if (!id || typeof AppExtensionsSDK === "undefined") {
    return; // opened outside the CRM
  }
  try {
    var sdk = new AppExtensionsSDK({ identifier: id });
    document.documentElement.setAttribute("data-theme", sdk.userSettings.theme);
    sdk.initialize().catch(function () {});
  } catch (e) {
    // Not inside the CRM's frame: the page works without the SDK.
  }
})();
