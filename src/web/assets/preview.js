// The editor's preview: the saved draft run by the engine through
// /api/admin/playbooks/{id}/preview, with "a rep is online / nobody is online" and
// "known / unknown visitor" switches. Nothing is stored: the page keeps the engine state
// and sends it back; CRM writes and e-mails show as "would …" lines. Text is only ever
// set as textContent.
(function () {
  "use strict";
  var S = window.ConciergeSettings;
  if (!S) { return; }
  var $ = function (id) { return document.getElementById(id); };
  var engineState = null;

  function line(author, text) {
    var item = S.el("li", { className: "pv-" + author });
    item.appendChild(S.el("span", { className: "pv-who", text: author === "preview" ? "preview" : (author === "you" ? "you" : "bot") }));
    item.appendChild(S.el("span", { className: "pv-text", text: text }));
    $("pv-log").appendChild(item);
    return item;
  }

  function controls(waitingFor, last) {
    var box = $("pv-controls");
    S.clear(box);
    if (waitingFor === "visitor") {
      if (last && last.buttons && last.buttons.length) {
        last.buttons.forEach(function (label, i) {
          box.appendChild(S.el("button", { type: "button", text: label, onclick: function () { send({ kind: "choice", index: i }, label); } }));
        });
      }
      var input = S.el("input", { id: "pv-input", "aria-label": "Your answer", placeholder: (last && last.placeholder) || "Type an answer" });
      var go = S.el("button", { type: "button", text: "Send", onclick: function () {
        var text = input.value;
        if (!text.trim()) { return; }
        send({ kind: "text", text: text }, text);
      } });
      input.addEventListener("keydown", function (e) { if (e.key === "Enter") { go.click(); } });
      box.appendChild(input);
      box.appendChild(go);
      box.appendChild(S.el("button", { type: "button", text: "Leave", onclick: function () { send({ kind: "leave" }, "(leaves the chat)"); } }));
    } else if (waitingFor === "rep") {
      box.appendChild(S.el("button", { type: "button", text: "A rep takes the chat", onclick: function () { send({ kind: "rep_joined" }, null); } }));
      box.appendChild(S.el("button", { type: "button", text: "Nobody takes it in time", onclick: function () { send({ kind: "wait_expired" }, null); } }));
    } else {
      box.appendChild(S.el("span", { className: "muted", text: "The preview is over." }));
    }
    S.resize();
  }

  function send(input, said) {
    if (said !== null) { line("you", said); }
    var editing = S.editingId();
    if (!editing) { return; }
    var body = { input: input, state: engineState, reps_online: $("pv-reps").value === "online", known: $("pv-known").value === "known" };
    return S.api("POST", "/api/admin/playbooks/" + encodeURIComponent(editing) + "/preview", body).then(function (res) {
      if (res.status !== 200) {
        if (res.status === 422) { S.status("The draft has problems: fix them to preview it.", true); }
        else { S.failed(res); }
        return;
      }
      engineState = res.data.state;
      var last = null;
      res.data.messages.forEach(function (m) {
        line(m.author, m.text);
        if (m.author === "bot") { last = m; }
      });
      controls(res.data.waiting_for, last);
    });
  }

  function start() {
    S.saveDraft().then(function (saved) {
      if (!saved) { return; }
      if (saved.problems.length) { S.status("The draft has problems: fix them to preview it.", true); return; }
      engineState = null;
      S.clear($("pv-log"));
      $("pv-box").hidden = false;
      send({ kind: "start" }, null);
    });
  }

  function wire() {
    var button = $("pv-start");
    if (button) { button.addEventListener("click", start); }
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", wire); } else { wire(); }
})();
