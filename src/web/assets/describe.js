// The editor's "Describe it" box: a sentence to the playbook generator
// (`/api/admin/playbooks/generate`), which answers a valid draft or a clear failure. The
// change is shown as a line diff with its paths before the admin takes it into the
// editor; nothing is saved or published here. Without a configured model the box says how
// to configure one. Text is only ever set as textContent.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var proposal = null;

  function pathsText(list) {
    if (!list || !Array.isArray(list.paths)) { return ""; }
    return list.paths.map(function (p, i) {
      var steps = p.steps.map(function (s) { return s.card + (s.input ? " [" + s.input + "]" : ""); }).join(" → ");
      var ending = p.ending ? p.ending.kind + (p.ending.url ? " " + p.ending.url : "") : "";
      return "Path " + (i + 1) + ": " + steps + " → " + ending;
    }).join("\n") + (list.truncated ? "\n…" : "");
  }

  function showDiff(before, after) {
    var out = $("ai-diff");
    while (out.firstChild) { out.removeChild(out.firstChild); }
    window.ConciergeSettings.diffLines(before.split("\n"), after.split("\n")).forEach(function (l) {
      if (l[0] === " ") { return; }
      var line = document.createElement("span");
      line.className = l[0] === "+" ? "add" : "del";
      line.textContent = l[0] + " " + l[1] + "\n";
      out.appendChild(line);
    });
    if (!out.firstChild) { out.textContent = "No difference."; }
  }

  function setStatus(text, bad) {
    $("ai-status").textContent = text;
    $("ai-status").className = bad ? "status bad" : "muted";
  }

  function generate() {
    var s = window.ConciergeSettings;
    var text = $("ai-text").value.trim();
    if (!text) { $("ai-text").focus(); return; }
    var draft = s.draftDocument();
    $("ai-go").disabled = true;
    $("ai-result").hidden = true;
    setStatus("Asking the model… this can take a minute.");
    s.api("POST", "/api/admin/playbooks/generate", draft ? { description: text, draft: draft } : { description: text }).then(function (res) {
      $("ai-go").disabled = false;
      if (res.status === 200) {
        proposal = res.data;
        setStatus("A valid draft (" + res.data.rounds + (res.data.rounds === 1 ? " answer" : " answers") + " from " + res.data.model + "). Check the change, then use it or discard it.");
        showDiff($("ed-source").value, res.data.yaml);
        $("ai-paths").textContent = pathsText(res.data.paths);
        $("ai-result").hidden = false;
      } else {
        var e = res.data && res.data.error ? res.data.error : null;
        var problems = e && e.details && Array.isArray(e.details.problems) ? e.details.problems : [];
        setStatus((e ? e.message : "the server answered " + res.status) + problems.map(function (p) {
          return "\n" + (p.card ? "card '" + p.card + "': " : "") + p.message;
        }).join(""), true);
      }
      s.resize();
    });
  }

  function start() {
    if (!$("ai-box") || !window.ConciergeSettings) { return; }
    var s = window.ConciergeSettings;
    s.api("GET", "/api/admin/playbooks/generate").then(function (res) {
      if (res.status !== 200) { return; }
      if (res.data.configured) {
        $("ai-form").hidden = false;
        setStatus("Model: " + res.data.model + ". Describe a new flow or a change to this one.");
      } else {
        $("ai-form").hidden = true;
        setStatus("Not configured. Here is how: " + res.data.how_to_configure);
      }
    });
    $("ai-go").addEventListener("click", generate);
    $("ai-discard").addEventListener("click", function () { proposal = null; $("ai-result").hidden = true; s.resize(); });
    $("ai-accept").addEventListener("click", function () {
      if (!proposal) { return; }
      s.loadYaml(proposal.yaml);
      proposal = null;
      $("ai-result").hidden = true;
      $("ai-text").value = "";
      s.status("The generated draft is in the editor: save it to keep it.");
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
