// The editor's "Describe it" box: a sentence to the playbook generator
// (`/api/admin/playbooks/generate`), sent with the open draft, which answers a valid draft
// or a clear failure. The change is shown as a line diff (with a few unchanged lines
// around each change) and the draft's paths before the admin takes it into the editor;
// nothing is saved or published here. Without a configured model the box says how to
// configure one. Text is only ever set as textContent.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var proposal = null;
  // Unchanged lines shown before and after each change.
  var CONTEXT = 2;

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  // The diff's lines to show: every change, CONTEXT unchanged lines around it, and one
  // ["…", count] line for each run of unchanged lines left out.
  function hunks(lines) {
    var keep = lines.map(function () { return false; });
    lines.forEach(function (l, i) {
      if (l[0] === " ") { return; }
      for (var k = Math.max(0, i - CONTEXT); k <= Math.min(lines.length - 1, i + CONTEXT); k++) { keep[k] = true; }
    });
    var out = [];
    var skipped = 0;
    lines.forEach(function (l, i) {
      if (keep[i]) {
        if (skipped) { out.push(["…", skipped]); skipped = 0; }
        out.push(l);
      } else { skipped++; }
    });
    if (skipped) { out.push(["…", skipped]); }
    return out;
  }

  function showDiff(before, after) {
    var out = $("ai-diff");
    clear(out);
    var lines = window.ConciergeSettings.diffLines(before.split("\n"), after.split("\n"));
    var added = lines.filter(function (l) { return l[0] === "+"; }).length;
    var removed = lines.filter(function (l) { return l[0] === "-"; }).length;
    $("ai-counts").textContent = added || removed ? "(" + added + " lines added, " + removed + " removed)" : "";
    if (!added && !removed) { out.textContent = "No difference: the draft would stay as it is."; return; }
    hunks(lines).forEach(function (l) {
      var line = document.createElement("span");
      if (l[0] === "…") {
        line.className = "gap";
        line.textContent = "  ⋯ " + l[1] + (l[1] === 1 ? " unchanged line" : " unchanged lines") + "\n";
      } else {
        line.className = l[0] === "+" ? "add" : l[0] === "-" ? "del" : "ctx";
        line.textContent = l[0] + " " + l[1] + "\n";
      }
      out.appendChild(line);
    });
  }

  function setStatus(text, bad) {
    $("ai-status").textContent = text;
    $("ai-status").className = bad ? "status bad" : "muted";
  }

  function showProblems(problems) {
    var list = $("ai-problems");
    clear(list);
    problems.forEach(function (p) {
      var item = document.createElement("li");
      item.textContent = (p.card ? "card '" + p.card + "': " : "") + p.message;
      list.appendChild(item);
    });
  }

  function generate() {
    var s = window.ConciergeSettings;
    var text = $("ai-text").value.trim();
    if (!text) { $("ai-text").focus(); return; }
    var draft = s.draftDocument();
    $("ai-go").disabled = true;
    $("ai-result").hidden = true;
    showProblems([]);
    setStatus("Asking the model… this can take a minute.");
    s.api("POST", "/api/admin/playbooks/generate", draft ? { description: text, draft: draft } : { description: text }).then(function (res) {
      $("ai-go").disabled = false;
      if (res.status === 200) {
        proposal = res.data;
        setStatus("A valid draft (" + res.data.rounds + (res.data.rounds === 1 ? " answer" : " answers") + " from " + res.data.model + "). Check the change, then use it or discard it: nothing is saved until you do.");
        showDiff($("ed-source").value, s.asOpenDraft(res.data.yaml));
        $("ai-paths").textContent = res.data.paths_text;
        $("ai-result").hidden = false;
      } else {
        var e = res.data && res.data.error ? res.data.error : null;
        var problems = e && e.details && Array.isArray(e.details.problems) ? e.details.problems : [];
        var message = e ? e.message.charAt(0).toUpperCase() + e.message.slice(1) : "The server answered " + res.status;
        setStatus(message.replace(/\.?$/, ".") + " The editor's draft is unchanged." + (problems.length ? " The last answer's problems:" : ""), true);
        showProblems(problems);
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
        setStatus("Model: " + res.data.model + ". Describe a new flow, or a change to this one.");
      } else {
        $("ai-form").hidden = true;
        setStatus(res.data.how_to_configure);
      }
    });
    $("ai-go").addEventListener("click", generate);
    $("ai-discard").addEventListener("click", function () {
      proposal = null;
      $("ai-result").hidden = true;
      setStatus("Discarded: the editor's draft is unchanged.");
      s.resize();
    });
    $("ai-accept").addEventListener("click", function () {
      if (!proposal) { return; }
      s.loadYaml(proposal.yaml);
      proposal = null;
      $("ai-result").hidden = true;
      $("ai-text").value = "";
      setStatus("The generated draft is in the editor, not saved yet: check it, save it, then publish it when it is right.");
      s.status("The generated draft is in the editor: save it to keep it.");
    });
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
