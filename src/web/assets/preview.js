// The editor's preview: the real chat widget (/widget.js, mounted with data-preview) runs
// the saved draft through /api/admin/playbooks/{id}/preview instead of the visitor API,
// with "a rep is online / nobody is online" and "known / unknown visitor" switches.
// Nothing is stored: this adapter keeps the engine state and sends it back; CRM writes
// and e-mails show as "would …" lines. The widget renders every text as it does for a
// visitor (rich text through text nodes only).
(function () {
  "use strict";
  var S = window.ConciergeSettings;
  if (!S) { return; }
  var $ = function (id) { return document.getElementById(id); };
  // Waiting for a rep: the preview asks the admin what happens, as two buttons.
  var REP = ["A rep takes the chat", "Nobody takes it in time"];
  var engineState = null;
  var seq = 0;
  var last = null;
  var conv = { id: "preview", status: "bot", outcome: null };

  // Plain text shown through the widget's rich text, kept plain.
  function plain(text) {
    return String(text).replace(/([\\*\[\]()!-])/g, "\\$1");
  }

  function message(author, text, extra) {
    seq += 1;
    var m = { id: "pv-" + seq, seq: seq, author: author, text: text };
    Object.keys(extra || {}).forEach(function (k) { m[k] = extra[k]; });
    return m;
  }

  function failure(text, status) {
    var e = new Error(text);
    e.status = status;
    return e;
  }

  // One preview call; answers what the widget expects from the visitor API.
  function run(input, said) {
    var editing = S.editingId();
    if (!editing) { return Promise.reject(failure("No playbook is open.", 400)); }
    var body = { input: input, state: engineState, reps_online: $("pv-reps").value === "online", known: $("pv-known").value === "known" };
    return S.api("POST", "/api/admin/playbooks/" + encodeURIComponent(editing) + "/preview", body).then(function (res) {
      if (res.status !== 200) {
        if (res.status === 422) { S.status("The draft has problems: fix them to preview it.", true); }
        else { S.failed(res); }
        throw failure("The preview could not go on.", res.status);
      }
      engineState = res.data.state;
      var out = said === null ? [] : [message("visitor", said)];
      last = null;
      res.data.messages.forEach(function (m) {
        if (m.author === "bot") {
          last = m;
          out.push(message("bot", m.text, { buttons: m.buttons, input: m.input, placeholder: m.placeholder }));
        } else {
          out.push(message("system", plain(m.text)));
        }
      });
      var waiting = res.data.waiting_for;
      if (waiting === "rep") { out.push(message("system", "(preview) Does a rep take the chat?", { buttons: REP })); }
      conv.status = waiting === "nothing" ? "closed" : "bot";
      conv.waiting = waiting;
      return { conversation: conv, messages: out };
    });
  }

  // What the widget asks of the visitor API, answered by the preview.
  function call(path, body) {
    if (path === "session") {
      return S.api("GET", "/api/admin/settings").then(function (res) {
        return { token: "preview", settings: res.status === 200 ? res.data : {}, triggers: [] };
      });
    }
    if (path === "trigger") { return run({ kind: "start" }, null); }
    if (path === "close") {
      if (conv.status === "closed") { return Promise.resolve({ conversation: conv, messages: [] }); }
      return run({ kind: "leave" }, null);
    }
    if (path === "messages" && body.choice) {
      var index = body.choice.index;
      if (conv.waiting === "rep") { return run({ kind: index === 0 ? "rep_joined" : "wait_expired" }, REP[index]); }
      return run({ kind: "choice", index: index }, last && last.buttons ? last.buttons[index] : "");
    }
    if (path === "messages") { return run({ kind: "text", text: body.text }, body.text); }
    return Promise.resolve({});
  }

  // A fresh widget for each preview, in the page's box.
  function mount() {
    var box = $("pv-widget");
    S.clear(box);
    engineState = null;
    seq = 0;
    conv = { id: "preview", status: "bot", outcome: null };
    try { localStorage.removeItem("concierge.preview"); } catch (e) { /* storage off */ }
    window.ConciergePreview = { call: call, mount: box };
    delete window.Concierge;
    var script = document.createElement("script");
    script.src = "/widget.js";
    script.setAttribute("data-key", "preview");
    script.setAttribute("data-preview", "");
    script.onload = function () {
      script.remove();
      if (window.Concierge) { window.Concierge.open("preview"); }
      S.resize();
    };
    box.appendChild(script);
  }

  function start() {
    S.saveDraft().then(function (saved) {
      if (!saved) { return; }
      if (saved.problems.length) { S.status("The draft has problems: fix them to preview it.", true); return; }
      $("pv-box").hidden = false;
      mount();
    });
  }

  function wire() {
    var button = $("pv-start");
    if (button) { button.addEventListener("click", start); }
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", wire); } else { wire(); }
})();
