// Starts @pipedrive/app-extensions-sdk on a page the CRM opens in its iframe. The CRM hides
// the iframe unless this happens within 10 seconds, so it runs as soon as it is loaded.
// The page follows the CRM's theme: the one it passes (`?theme=dark`, kept for the pages
// a form leads to) and every later change it announces.
(function () {
  var script = document.currentScript;
  var id = script && script.getAttribute("data-sdk-id");
  var KEY = "concierge.theme";
  function theme(t) {
    if (t !== "dark" && t !== "light") return;
    document.documentElement.setAttribute("data-theme", t);
    try { sessionStorage.setItem(KEY, t); } catch (e) {}
  }
  var passed = new URLSearchParams(location.search).get("theme");
  try { passed = passed || sessionStorage.getItem(KEY); } catch (e) {}
  theme(passed);
  if (!id || typeof AppExtensionsSDK === "undefined") {
    return; // opened outside the CRM
  }
  try {
    var sdk = new AppExtensionsSDK({ identifier: id });
    sdk.listen("user_settings_change", function (e) {
      if (e && e.data) theme(e.data.theme);
    });
    sdk.initialize().catch(function () {});
  } catch (e) {
    // Not inside the CRM's frame: the page works without the SDK.
  }
})();
