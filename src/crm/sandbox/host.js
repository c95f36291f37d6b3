// The CRM side of the @pipedrive/app-extensions-sdk handshake, as the sandbox shell plays
// it. The app in the iframe posts {payload: {type, command, args}, id} with a MessagePort;
// the host answers on that port with {data} or {error}. Listeners keep their port for
// events. The app must send `initialize` within 10 seconds or the shell hides it. The app's
// address is set only once the listener is in place, so its first message is never missed.
(function () {
  "use strict";
  var frame = document.getElementById("app-frame");
  if (!frame) { return; }
  var runtimeId = frame.dataset.runtimeId;
  var tokenUrl = frame.dataset.tokenUrl;
  var statusEl = document.getElementById("sdk-status");
  var toastEl = document.getElementById("snackbar");
  var badgeEl = document.getElementById("badge");
  var listeners = {};
  var initialized = false;

  function say(text) { if (statusEl) { statusEl.textContent = text; } }

  function resize(size) {
    if (size && typeof size.height === "number") { frame.style.height = Math.max(100, size.height) + "px"; }
    if (size && typeof size.width === "number") { frame.style.width = Math.max(100, size.width) + "px"; }
  }

  function snackbar(message) {
    if (!toastEl) { return; }
    toastEl.textContent = String(message || "");
    toastEl.hidden = false;
    setTimeout(function () { toastEl.hidden = true; }, 4000);
  }

  function emit(event, data) {
    (listeners[event] || []).forEach(function (port) { port.postMessage({ data: data }); });
  }

  var watchdog = setTimeout(function () {
    if (!initialized) {
      frame.hidden = true;
      say("The app did not initialise the SDK within 10 seconds, so the CRM hides it.");
    }
  }, 10000);

  window.addEventListener("message", function (event) {
    if (event.source !== frame.contentWindow) { return; }
    var msg = event.data || {};
    if (msg.id !== runtimeId || !msg.payload) { return; }
    var p = msg.payload;
    var port = event.ports && event.ports[0];
    if (p.type === "track") { return; }
    if (p.type === "listener") {
      if (port) {
        (listeners[p.event] = listeners[p.event] || []).push(port);
        if (p.event === "visibility") { port.postMessage({ data: { is_visible: true } }); }
      }
      return;
    }
    if (p.type !== "command" || !port) { return; }
    var reply = function (data) { port.postMessage({ data: data }); };
    var fail = function (error) { port.postMessage({ error: error }); };
    if (!initialized && p.command !== "initialize") { fail("SDK is not initialized"); return; }
    switch (p.command) {
      case "initialize":
        initialized = true;
        clearTimeout(watchdog);
        frame.hidden = false;
        resize(p.args && p.args.size);
        say("App initialised the SDK.");
        reply();
        break;
      case "resize":
        resize(p.args);
        reply();
        break;
      case "get_signed_token":
        fetch(tokenUrl, { credentials: "same-origin", cache: "no-store" })
          .then(function (r) { return r.ok ? r.json() : Promise.reject(new Error(String(r.status))); })
          .then(function (j) { reply({ token: j.token }); }, function () { fail("Could not sign a token"); });
        break;
      case "show_snackbar":
        snackbar(p.args && p.args.message);
        reply();
        break;
      case "show_confirmation":
        reply({ confirmed: window.confirm(String((p.args && p.args.title) || "Are you sure?")) });
        break;
      case "get_metadata":
        reply({ windowHeight: window.innerHeight, windowWidth: window.innerWidth });
        break;
      case "set_notification":
        if (badgeEl) {
          var n = p.args && p.args.number;
          badgeEl.textContent = n ? String(n) : "";
          badgeEl.hidden = !n;
        }
        reply();
        break;
      case "redirect_to":
        window.location.href = "/sandbox/data";
        reply();
        break;
      default:
        reply();
    }
  });

  frame.src = frame.dataset.src;

  var toggle = document.getElementById("theme-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var dark = document.body.classList.toggle("dark");
      emit("user_settings_change", { theme: dark ? "dark" : "light" });
    });
  }
})();
