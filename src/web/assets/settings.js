// The settings page: playbooks, the YAML editor with checking as the admin types,
// versions with a diff and restore, answer rules, the company and live chat settings,
// the embed snippet and identity secret, API keys and the audit log — all through the
// admin API (session cookie + X-CSRF-Token). Text from the server is only ever set as
// textContent: nothing a playbook or a user wrote reaches the HTML parser.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";
  var $ = function (id) { return document.getElementById(id); };

  // Elements made from text only (editor.js, loaded first).
  var el = window.ConciergeEditor.el;
  var clear = window.ConciergeEditor.clear;

  function status(text, bad) {
    var s = $("page-status");
    s.textContent = text || "";
    s.className = bad ? "status bad" : "status";
    resize();
  }

  function when(ms) {
    if (!ms) { return "—"; }
    var d = new Date(ms);
    return d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  // One call to the admin API: {status, data}. Errors show their message.
  function api(method, path, body, contentType) {
    var headers = { "X-CSRF-Token": csrf };
    var payload;
    if (body !== undefined) {
      headers["Content-Type"] = contentType || "application/json";
      payload = contentType ? body : JSON.stringify(body);
    }
    return fetch(path, { method: method, headers: headers, body: payload, credentials: "same-origin" })
      .then(function (r) {
        return r.text().then(function (t) {
          var data = null;
          try { data = t ? JSON.parse(t) : null; } catch (e) { data = t; }
          return { status: r.status, data: data };
        });
      });
  }

  function failed(res) {
    var m = res.data && res.data.error ? res.data.error.message : "the server answered " + res.status;
    status(m, true);
  }

  var resizeTimer = null;
  function resize() {
    if (resizeTimer) { return; }
    resizeTimer = setTimeout(function () {
      resizeTimer = null;
      var sdk = window.ConciergeSdk;
      if (sdk && sdk.initialized) {
        try { sdk.execute("resize", { height: document.documentElement.scrollHeight }).catch(function () {}); } catch (e) { /* outside the CRM */ }
      }
    }, 100);
  }

  // ---- Playbooks ----
  var templates = [];
  var editing = null; // the playbook open in the editor

  function loadTemplates() {
    api("GET", "/api/admin/templates").then(function (res) {
      if (res.status !== 200) { return failed(res); }
      templates = res.data.templates;
      var select = $("pb-template");
      clear(select);
      templates.forEach(function (t, i) {
        select.appendChild(el("option", { value: String(i), text: i === 0 ? "Blank" : t.name }));
      });
    });
  }

  function withSlug(yaml, slug, name) {
    var out = yaml.replace(/^slug:.*$/m, "slug: " + slug);
    if (name) { out = out.replace(/^name:.*$/m, "name: " + JSON.stringify(name)); }
    return out;
  }

  function createFrom(yaml, contentType) {
    return api("POST", "/api/admin/playbooks", yaml, contentType || "application/yaml").then(function (res) {
      if (res.status === 201) {
        status("Created " + res.data.slug + ". It is off until you publish it and switch it on.");
        loadPlaybooks();
        openEditor(res.data.id);
      } else if (res.status === 422) {
        status("Nothing was created: " + res.data.error.problems.map(function (p) {
          return (p.line ? "line " + p.line + ": " : "") + (p.card ? "card '" + p.card + "': " : "") + p.message;
        }).join("; "), true);
      } else { failed(res); }
    });
  }

  // Lists asked for so far: an answer to an older request (sent before a publish, say)
  // that arrives after a newer one is dropped, so the list never goes back in time.
  var playbookLists = 0;
  function loadPlaybooks() {
    var asked = ++playbookLists;
    return api("GET", "/api/admin/playbooks").then(function (res) {
      if (asked !== playbookLists) { return; }
      if (res.status !== 200) { return failed(res); }
      var body = $("pb-list").tBodies[0];
      clear(body);
      if (!res.data.playbooks.length) {
        body.appendChild(el("tr", {}, el("td", { colspan: "7", className: "muted", text: "No playbooks yet." })));
      }
      var order = res.data.playbooks.map(function (p) { return p.id; });
      res.data.playbooks.forEach(function (p, i) {
        var toggle = el("input", { type: "checkbox", "aria-label": "Switch " + p.name + " on or off" });
        toggle.checked = p.enabled;
        toggle.disabled = p.published_version === null;
        toggle.addEventListener("change", function () {
          api("POST", "/api/admin/playbooks/" + p.id + "/enabled", { enabled: toggle.checked }).then(function (r) {
            if (r.status !== 200) { toggle.checked = !toggle.checked; return failed(r); }
            status(p.name + (toggle.checked ? " is on." : " is off."));
            loadAudit();
          });
        });
        var published = p.published_version === null ? el("span", { className: "muted", text: "never" })
          : el("span", {}, "v" + p.published_version + " · " + when(p.published_at));
        var badges = el("div", {});
        if (p.draft_problems) { badges.appendChild(el("span", { className: "badge warn", text: p.draft_problems + " problem(s) in the draft" })); }
        else if (p.has_unpublished_changes) { badges.appendChild(el("span", { className: "badge", text: "unpublished changes" })); }
        var s = p.stats_7_days;
        var up = el("button", { type: "button", text: "↑", title: "Move up", "aria-label": "Move " + p.name + " up", onclick: function () { move(order, i, -1); } });
        var down = el("button", { type: "button", text: "↓", title: "Move down", "aria-label": "Move " + p.name + " down", onclick: function () { move(order, i, 1); } });
        up.disabled = i === 0;
        down.disabled = i === order.length - 1;
        body.appendChild(el("tr", { "data-id": p.id },
          el("td", {}, toggle),
          el("td", { className: "pb-order" }, up, down),
          el("td", {}, el("strong", { text: p.name }), el("div", { className: "muted small", text: p.slug + " · priority " + p.priority })),
          el("td", { className: "small", text: p.trigger }),
          el("td", {}, published, badges),
          el("td", { className: "small", text: s.shown + " shown · " + s.engaged + " engaged · " + s.converted + " converted" }),
          el("td", {},
            el("button", { type: "button", text: "Edit", onclick: function () { openEditor(p.id); } }), " ",
            el("button", { type: "button", text: "Duplicate", onclick: function () { duplicate(p); } }), " ",
            el("a", { href: "/api/admin/playbooks/" + encodeURIComponent(p.id) + "/export", download: p.slug + ".yaml", text: "Export" }), " ",
            el("button", { type: "button", text: "Delete", onclick: function () { remove(p); } }))));
      });
      resize();
    });
  }

  // The list's order is the priority order: moving a playbook saves the whole order.
  function move(order, i, by) {
    var ids = order.slice();
    var j = i + by;
    if (j < 0 || j >= ids.length) { return; }
    ids[i] = order[j];
    ids[j] = order[i];
    api("PUT", "/api/admin/playbooks/order", { ids: ids }).then(function (res) {
      if (res.status !== 200) { return failed(res); }
      status("The order is saved: the higher a playbook, the sooner it wins.");
      loadPlaybooks();
      loadAudit();
    });
  }

  function duplicate(p) {
    var slug = window.prompt("Slug of the copy (lowercase letters, digits and dashes):", p.slug + "-copy");
    if (!slug) { return; }
    api("GET", "/api/admin/playbooks/" + p.id).then(function (res) {
      if (res.status !== 200) { return failed(res); }
      var text = res.data.format === "json" ? JSON.stringify(Object.assign({}, res.data.document, { slug: slug, name: p.name + " (copy)" }), null, 2)
        : withSlug(res.data.source, slug, p.name + " (copy)");
      createFrom(text, res.data.format === "json" ? "application/json" : "application/yaml");
    });
  }

  function remove(p) {
    if (!window.confirm("Delete " + p.name + " and all its versions?")) { return; }
    api("DELETE", "/api/admin/playbooks/" + p.id).then(function (res) {
      if (res.status === 204) { status(p.name + " was deleted."); if (editing && editing.id === p.id) { closeEditor(); } }
      else if (res.status === 202) { status(res.data.message); }
      else { return failed(res); }
      loadPlaybooks();
      loadAudit();
    });
  }

  // ---- Editor ----
  var checkTimer = null;
  var checkSeq = 0;

  function editorProblems(problems) {
    var list = $("ed-problems");
    clear(list);
    if (!problems) { return; }
    window.ConciergeEditor.problems(problems);
    if (!problems.length) { list.appendChild(el("li", { className: "none", text: "No problems." })); }
    problems.forEach(function (p) {
      var where = (p.line ? "line " + p.line + ": " : "") + (p.card ? "card '" + p.card + "': " : "");
      var item = el("li", {}, where + p.message);
      if (p.line) {
        item.style.cursor = "pointer";
        item.addEventListener("click", function () { goToLine(p.line); });
      }
      list.appendChild(item);
    });
    resize();
  }

  function goToLine(line) {
    var area = $("ed-source");
    var lines = area.value.split("\n");
    var start = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) { start += lines[i].length + 1; }
    area.focus();
    area.setSelectionRange(start, start + (lines[line - 1] || "").length);
  }

  function check() {
    var seq = ++checkSeq;
    api("POST", "/api/admin/validate", $("ed-source").value, "application/yaml").then(function (res) {
      if (seq !== checkSeq || res.status !== 200) { return; }
      window.ConciergeEditor.render(res.data.document, res.data.problems);
      editorProblems(res.data.problems);
      $("ed-paths").textContent = res.data.paths || "";
      if (res.data.document) { graph(res.data.document, res.data.problems); }
    });
  }

  // A change made in the form: the server writes the document as YAML and checks that
  // text, so the YAML view, the problems and the graph follow the form.
  var formTimer = null;
  function formChanged(doc) {
    clearTimeout(formTimer);
    clearTimeout(checkTimer);
    formTimer = setTimeout(function () {
      var seq = ++checkSeq;
      api("POST", "/api/admin/yaml", doc).then(function (res) {
        if (seq !== checkSeq) { return; }
        if (res.status !== 200) { return failed(res); }
        $("ed-source").value = res.data.yaml;
        editorProblems(res.data.problems);
        $("ed-paths").textContent = res.data.paths || "";
        if (res.data.document) { graph(res.data.document, res.data.problems); }
      });
    }, 250);
  }

  // The flow graph: one column per step from start, a box per card, a line per transition
  // (dashed red when it names no card). Drawn with SVG elements, text as textContent.
  var SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function targets(card) {
    var out = [];
    (function walk(value, key) {
      if (typeof value === "string") {
        if (key === "next" || key === "else" || key === "on_fail" || key === "on_error" || /_next$/.test(key || "")) { out.push(value); }
      } else if (Array.isArray(value)) { value.forEach(function (v) { walk(v, key); }); }
      else if (value && typeof value === "object") { Object.keys(value).forEach(function (k) { if (k !== "id") { walk(value[k], k); } }); }
    })(card, null);
    return out;
  }

  function graph(doc, problems) {
    var area = $("ed-graph");
    clear(area);
    var cards = Array.isArray(doc.cards) ? doc.cards.filter(function (c) { return c && typeof c.id === "string"; }) : [];
    var byId = {};
    cards.forEach(function (c) { byId[c.id] = c; });
    var depth = {};
    var queue = [];
    if (byId[doc.start]) { depth[doc.start] = 0; queue.push(doc.start); }
    while (queue.length) {
      var id = queue.shift();
      targets(byId[id]).forEach(function (t) {
        if (byId[t] && depth[t] === undefined) { depth[t] = depth[id] + 1; queue.push(t); }
      });
    }
    var maxDepth = 0;
    Object.keys(depth).forEach(function (k) { maxDepth = Math.max(maxDepth, depth[k]); });
    var rows = {};
    var pos = {};
    var W = 130, H = 36, GX = 40, GY = 14;
    cards.forEach(function (c) {
      var col = depth[c.id] === undefined ? maxDepth + 1 : depth[c.id];
      var row = rows[col] || 0;
      rows[col] = row + 1;
      pos[c.id] = { x: 8 + col * (W + GX), y: 8 + row * (H + GY) };
    });
    var width = 16, height = 16;
    Object.keys(pos).forEach(function (k) { width = Math.max(width, pos[k].x + W + 8); height = Math.max(height, pos[k].y + H + 8); });
    area.setAttribute("width", width);
    area.setAttribute("height", height);
    area.setAttribute("viewBox", "0 0 " + width + " " + height);
    var bad = {};
    (problems || []).forEach(function (p) { if (p.card) { bad[p.card] = true; } });
    cards.forEach(function (c) {
      var from = pos[c.id];
      targets(c).forEach(function (t) {
        var to = pos[t];
        area.appendChild(to ? svg("line", { x1: from.x + W, y1: from.y + H / 2, x2: to.x, y2: to.y + H / 2 })
          : svg("line", { x1: from.x + W, y1: from.y + H / 2, x2: from.x + W + GX - 4, y2: from.y + H / 2, "class": "missing" }));
      });
    });
    cards.forEach(function (c) {
      var p = pos[c.id];
      var g = svg("g", { "class": (bad[c.id] ? "bad " : "") + (c.id === doc.start ? "start" : ""), "data-card": c.id });
      g.appendChild(svg("rect", { x: p.x, y: p.y, width: W, height: H, rx: 6 }));
      g.appendChild(svg("text", { x: p.x + 6, y: p.y + 15 }, c.id.length > 18 ? c.id.slice(0, 17) + "…" : c.id));
      g.appendChild(svg("text", { x: p.x + 6, y: p.y + 29, "class": "kind" }, String(c.type || "?")));
      g.appendChild(svg("title", {}, c.id));
      g.addEventListener("click", function () {
        findCard(c.id);
        window.ConciergeEditor.open(c.id);
      });
      area.appendChild(g);
    });
    resize();
  }

  function findCard(id) {
    var lines = $("ed-source").value.split("\n");
    for (var i = 0; i < lines.length; i++) {
      var m = /^\s*(-\s*)?id:\s*["']?([^"'#]+?)["']?\s*(#.*)?$/.exec(lines[i]);
      if (m && m[2] === id) { goToLine(i + 1); return; }
    }
  }

  function openEditor(id) {
    api("GET", "/api/admin/playbooks/" + id).then(function (res) {
      if (res.status !== 200) { return failed(res); }
      editing = res.data;
      $("editor").hidden = false;
      $("ed-title").textContent = editing.name + " (" + editing.slug + ")";
      $("ed-source").value = editing.source;
      window.ConciergeEditor.reset();
      window.ConciergeEditor.render(editing.document, editing.problems);
      $("ed-export").setAttribute("href", "/api/admin/playbooks/" + encodeURIComponent(id) + "/export");
      $("ed-export").setAttribute("download", editing.slug + ".yaml");
      editorProblems(editing.problems);
      $("ed-paths").textContent = editing.paths || "";
      graph(editing.document || {}, editing.problems);
      loadVersions();
      $("editor").scrollIntoView();
    });
  }

  function closeEditor() {
    editing = null;
    $("editor").hidden = true;
    resize();
  }

  function saveDraft() {
    if (!editing) { return Promise.resolve(null); }
    return api("PUT", "/api/admin/playbooks/" + editing.id + "/draft", $("ed-source").value, "application/yaml").then(function (res) {
      if (res.status !== 200) { failed(res); return null; }
      editorProblems(res.data.problems);
      status(res.data.problems.length ? "Draft saved, with problems: fix them to publish." : "Draft saved.");
      loadPlaybooks();
      loadAudit();
      return res.data;
    });
  }

  function publish() {
    saveDraft().then(function (saved) {
      if (!saved || saved.problems.length) { return; }
      api("POST", "/api/admin/playbooks/" + editing.id + "/publish", { note: $("ed-note").value }).then(function (res) {
        if (res.status === 201) {
          status("Published version " + res.data.version + ". Visitors get it from now on (when it is on).");
          $("ed-note").value = "";
          loadVersions();
          loadPlaybooks();
          loadAudit();
        } else if (res.status === 422) {
          editorProblems(res.data.error.problems);
          status("The draft has problems: it was not published.", true);
        } else { failed(res); }
      });
    });
  }

  function loadVersions() {
    if (!editing) { return; }
    var id = editing.id;
    api("GET", "/api/admin/playbooks/" + id + "/versions").then(function (res) {
      if (res.status !== 200) { return failed(res); }
      var body = $("ed-versions").tBodies[0];
      clear(body);
      var a = $("ed-diff-a"), b = $("ed-diff-b");
      clear(a); clear(b);
      b.appendChild(el("option", { value: "draft", text: "the draft" }));
      if (!res.data.versions.length) {
        body.appendChild(el("tr", {}, el("td", { colspan: "5", className: "muted", text: "Not published yet." })));
      }
      res.data.versions.forEach(function (v, i) {
        body.appendChild(el("tr", {},
          el("td", { text: "v" + v.version }),
          el("td", { text: v.note || "—" }),
          el("td", { text: v.author || "shipped" }),
          el("td", { text: when(v.published_at) }),
          el("td", {}, el("button", { type: "button", text: "Restore", onclick: function () { restore(v.version); } }))));
        a.appendChild(el("option", { value: String(v.version), text: "v" + v.version }));
        b.appendChild(el("option", { value: String(v.version), text: "v" + v.version }));
        if (i === 0) { a.value = String(v.version); }
      });
      resize();
    });
  }

  function restore(version) {
    if (!window.confirm("Replace the draft with version " + version + "? Publish it afterwards to make it live.")) { return; }
    api("POST", "/api/admin/playbooks/" + editing.id + "/versions/" + version + "/restore").then(function (res) {
      if (res.status !== 200) { return failed(res); }
      status("Version " + version + " is the draft again; publish it to make it live.");
      openEditor(editing.id);
      loadPlaybooks();
      loadAudit();
    });
  }

  function versionText(which) {
    if (which === "draft") { return Promise.resolve($("ed-source").value); }
    return api("GET", "/api/admin/playbooks/" + editing.id + "/versions/" + which).then(function (res) {
      return res.status === 200 ? res.data.yaml : "";
    });
  }

  // A line diff (longest common subsequence), good for playbooks of a few hundred lines.
  function diffLines(a, b) {
    var n = a.length, m = b.length, i, j;
    var table = [];
    for (i = 0; i <= n; i++) { table.push(new Array(m + 1).fill(0)); }
    for (i = n - 1; i >= 0; i--) {
      for (j = m - 1; j >= 0; j--) {
        table[i][j] = a[i] === b[j] ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
      }
    }
    var out = [];
    i = 0; j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[i] === b[j]) { out.push([" ", a[i]]); i++; j++; }
      else if (i < n && (j >= m || table[i + 1][j] >= table[i][j + 1])) { out.push(["-", a[i]]); i++; }
      else { out.push(["+", b[j]]); j++; }
    }
    return out;
  }

  function showDiff() {
    Promise.all([versionText($("ed-diff-a").value), versionText($("ed-diff-b").value)]).then(function (texts) {
      var pre = $("ed-diff-out");
      clear(pre);
      var lines = diffLines(texts[0].split("\n"), texts[1].split("\n"));
      var changed = lines.filter(function (l) { return l[0] !== " "; }).length;
      if (!changed) { pre.textContent = "No difference."; return; }
      lines.forEach(function (l) {
        pre.appendChild(el("span", { className: l[0] === "+" ? "add" : l[0] === "-" ? "del" : "", text: l[0] + " " + l[1] + "\n" }));
      });
      resize();
    });
  }

  // ---- Answer rules ----
  function keywordsOf(text) {
    return text.split(",").map(function (k) { return k.trim(); }).filter(function (k) { return k; });
  }

  function loadRules() {
    api("GET", "/api/admin/answer-rules").then(function (res) {
      if (res.status !== 200) { return failed(res); }
      var body = $("ar-list").tBodies[0];
      clear(body);
      res.data.answer_rules.forEach(function (r) {
        var on = el("input", { type: "checkbox", "aria-label": "Rule on or off" });
        on.checked = r.enabled;
        var keywords = el("input", { value: r.keywords.join(", "), "aria-label": "Keywords" });
        var reply = el("textarea", { rows: "2", "aria-label": "Reply" });
        reply.value = r.reply;
        var save = function () {
          api("PUT", "/api/admin/answer-rules/" + r.id, { keywords: keywordsOf(keywords.value), reply: reply.value, enabled: on.checked })
            .then(function (res2) { if (res2.status !== 200) { return failed(res2); } status("Rule saved."); loadAudit(); });
        };
        on.addEventListener("change", save);
        body.appendChild(el("tr", {},
          el("td", {}, on), el("td", {}, keywords), el("td", {}, reply),
          el("td", {},
            el("button", { type: "button", text: "Save", onclick: save }), " ",
            el("button", { type: "button", text: "Delete", onclick: function () {
              api("DELETE", "/api/admin/answer-rules/" + r.id).then(function (res2) {
                if (res2.status !== 204) { return failed(res2); }
                loadRules(); loadAudit();
              });
            } }))));
      });
      resize();
    });
  }

  // ---- Company settings ----
  var DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
  var settings = null;

  function field(name) { return $("settings-form").elements.namedItem(name); }

  function fillSettings(s) {
    settings = s;
    ["bot_name", "color", "position", "language", "timezone", "fallback_reply"].forEach(function (k) { field(k).value = s[k] || ""; });
    field("avatar_url").value = s.avatar_url || "";
    field("exit_words").value = s.exit_words.join(", ");
    field("notification_emails").value = s.notification_emails.join(", ");
    field("holidays").value = (s.holidays || []).join(", ");
    field("live_chat.see_all_chats").checked = s.live_chat.see_all_chats;
    field("live_chat.auto_assign").checked = s.live_chat.auto_assign;
    field("live_chat.max_open_chats").value = s.live_chat.max_open_chats;
    field("live_chat.unanswered_minutes").value = s.live_chat.unanswered_minutes;
    field("live_chat.offer_seconds").value = s.live_chat.offer_seconds;
    var hours = $("hours");
    clear(hours);
    DAYS.forEach(function (day, i) {
      var input = el("input", { name: "hours." + i, placeholder: "closed" });
      input.value = (s.business_hours[i] || []).join(", ");
      hours.appendChild(el("label", {}, day + " ", input));
    });
    preview();
  }

  function preview() {
    var color = field("color").value || "#2f6fed";
    $("preview-launcher").style.background = color;
    $("preview-bubble").style.borderColor = color;
    $("preview-name").textContent = field("bot_name").value;
    var left = field("position").value === "left";
    ["preview-launcher", "preview-bubble"].forEach(function (id) {
      $(id).style.left = left ? "12px" : "auto";
      $(id).style.right = left ? "auto" : "12px";
    });
  }

  function loadSettings() {
    api("GET", "/api/admin/settings").then(function (res) {
      if (res.status !== 200) { return failed(res); }
      fillSettings(res.data);
    });
  }

  function saveSettings(event) {
    event.preventDefault();
    var hours = DAYS.map(function (_, i) { return keywordsOf(field("hours." + i).value); });
    var body = {
      bot_name: field("bot_name").value,
      color: field("color").value,
      position: field("position").value,
      avatar_url: field("avatar_url").value.trim() || null,
      language: field("language").value,
      timezone: field("timezone").value.trim(),
      business_hours: hours,
      holidays: keywordsOf(field("holidays").value),
      fallback_reply: field("fallback_reply").value,
      exit_words: keywordsOf(field("exit_words").value),
      notification_emails: keywordsOf(field("notification_emails").value),
      live_chat: {
        see_all_chats: field("live_chat.see_all_chats").checked,
        auto_assign: field("live_chat.auto_assign").checked,
        max_open_chats: Number(field("live_chat.max_open_chats").value),
        unanswered_minutes: Number(field("live_chat.unanswered_minutes").value),
        offer_seconds: Number(field("live_chat.offer_seconds").value)
      }
    };
    var list = $("settings-problems");
    clear(list);
    api("PUT", "/api/admin/settings", body).then(function (res) {
      if (res.status === 200) { fillSettings(res.data); status("Settings saved."); loadAudit(); return; }
      if (res.status === 422) {
        res.data.error.problems.forEach(function (p) { list.appendChild(el("li", { text: p.field + ": " + p.message })); });
        status("The settings were not saved: see the problems under the form.", true);
        resize();
        return;
      }
      failed(res);
    });
  }

  // ---- Embed, identity secret ----
  var secret = "";
  function loadEmbed() {
    api("GET", "/api/admin/embed").then(function (res) {
      if (res.status !== 200) { return failed(res); }
      $("embed-snippet").textContent = res.data.snippet;
      secret = res.data.identity_secret;
      $("embed-secret").textContent = "••••••••••••";
      $("embed-reveal").textContent = "Show";
    });
  }

  function copy(text, what) {
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () { status(what + " copied."); }, function () { status("Select the text and copy it.", true); });
    } else { status("Select the text and copy it.", true); }
  }

  // ---- API keys ----
  function loadKeys() {
    api("GET", "/api/admin/api-keys").then(function (res) {
      if (res.status !== 200) { return failed(res); }
      var body = $("key-list").tBodies[0];
      clear(body);
      res.data.api_keys.forEach(function (k) {
        var action = k.revoked_at ? el("span", { className: "muted", text: "revoked " + when(k.revoked_at) })
          : el("button", { type: "button", text: "Revoke", onclick: function () {
            if (!window.confirm("Revoke " + k.name + "? Scripts using it stop working at once.")) { return; }
            api("DELETE", "/api/admin/api-keys/" + k.id).then(function (r) {
              if (r.status !== 204) { return failed(r); }
              loadKeys(); loadAudit();
            });
          } });
        body.appendChild(el("tr", {},
          el("td", { text: k.name }), el("td", {}, el("code", { text: k.prefix + "…" })),
          el("td", { text: k.created_by + " · " + when(k.created_at) }),
          el("td", { text: when(k.last_used_at) }), el("td", {}, action)));
      });
      resize();
    });
  }

  // ---- Audit log ----
  function describe(detail) {
    if (!detail || typeof detail !== "object") { return ""; }
    if (detail.changes) {
      return Object.keys(detail.changes).map(function (k) {
        var c = detail.changes[k];
        return k + ": " + JSON.stringify(c.before) + " → " + JSON.stringify(c.after);
      }).join("; ");
    }
    if (detail.version !== undefined) { return "version " + detail.version + (detail.note ? " · " + detail.note : ""); }
    if (detail.before !== undefined && detail.after !== undefined && typeof detail.before !== "object") {
      return JSON.stringify(detail.before) + " → " + JSON.stringify(detail.after);
    }
    return Object.keys(detail).length ? JSON.stringify(detail).slice(0, 200) : "";
  }

  function loadAudit() {
    api("GET", "/api/admin/audit-log").then(function (res) {
      if (res.status !== 200) { return failed(res); }
      var body = $("audit-list").tBodies[0];
      clear(body);
      if (!res.data.entries.length) {
        body.appendChild(el("tr", {}, el("td", { colspan: "4", className: "muted", text: "No changes yet." })));
      }
      res.data.entries.forEach(function (e) {
        body.appendChild(el("tr", {},
          el("td", { className: "small", text: when(e.at) }), el("td", { text: e.actor }),
          el("td", { text: e.action + (e.subject ? " · " + e.subject : "") }),
          el("td", { className: "small", text: describe(e.detail) })));
      });
      resize();
    });
  }

  // What the page's other scripts (the editor's, teams.js) use.
  window.ConciergeSettings = {
    api: api,
    status: status,
    resize: resize,
    el: el,
    clear: clear,
    failed: failed,
    loadAudit: loadAudit,
    diffLines: diffLines,
    saveDraft: saveDraft,
    editingId: function () { return editing ? editing.id : null; },
    draftDocument: function () { return window.ConciergeEditor.document(); },
    // A YAML text as the open playbook would take it: with the open playbook's slug.
    asOpenDraft: function (yaml) { return editing ? withSlug(yaml, editing.slug) : yaml; },
    // Put a whole YAML text in the editor (it keeps the open playbook's slug), as typing it would.
    loadYaml: function (yaml) {
      if (!editing) { return; }
      var area = $("ed-source");
      area.value = withSlug(yaml, editing.slug);
      area.dispatchEvent(new Event("input"));
    }
  };

  // ---- Wiring ----
  function start() {
    $("pb-create").addEventListener("click", function () {
      var t = templates[Number($("pb-template").value)];
      var slug = $("pb-slug").value.trim();
      if (!t) { return; }
      if (!/^[a-z0-9][a-z0-9-]*$/.test(slug)) { status("Give the new playbook a slug: lowercase letters, digits and dashes.", true); return; }
      createFrom(withSlug(t.yaml, slug, t === templates[0] ? null : t.name + " (" + slug + ")"));
    });
    $("pb-import").addEventListener("change", function () {
      var file = this.files && this.files[0];
      if (!file) { return; }
      file.text().then(function (text) {
        createFrom(text, /\.json$/i.test(file.name) ? "application/json" : "application/yaml");
      });
      this.value = "";
    });
    window.ConciergeEditor.mount($("ed-form"), formChanged);
    $("ed-source").addEventListener("input", function () {
      clearTimeout(formTimer);
      clearTimeout(checkTimer);
      checkTimer = setTimeout(check, 400);
    });
    $("ed-save").addEventListener("click", saveDraft);
    $("ed-publish").addEventListener("click", publish);
    $("ed-close").addEventListener("click", closeEditor);
    $("ed-diff").addEventListener("click", showDiff);
    $("ar-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var form = event.target;
      api("POST", "/api/admin/answer-rules", { keywords: keywordsOf(form.elements.keywords.value), reply: form.elements.reply.value })
        .then(function (res) {
          if (res.status !== 201) { return failed(res); }
          form.reset();
          status("Rule added.");
          loadRules(); loadAudit();
        });
    });
    $("settings-form").addEventListener("submit", saveSettings);
    ["color", "bot_name", "position"].forEach(function (k) { field(k).addEventListener("input", preview); });
    $("embed-copy").addEventListener("click", function () { copy($("embed-snippet").textContent, "The snippet was"); });
    $("embed-reveal").addEventListener("click", function () {
      var shown = $("embed-reveal").textContent === "Hide";
      $("embed-secret").textContent = shown ? "••••••••••••" : secret;
      $("embed-reveal").textContent = shown ? "Show" : "Hide";
    });
    $("embed-rotate").addEventListener("click", function () {
      if (!window.confirm("Make a new identity secret? Hashes made with the old one stop working at once.")) { return; }
      api("POST", "/api/admin/embed/identity-secret").then(function (res) {
        if (res.status !== 200) { return failed(res); }
        secret = res.data.identity_secret;
        $("embed-secret").textContent = secret;
        $("embed-reveal").textContent = "Hide";
        status("A new identity secret was made: update your website's server.");
        loadAudit();
      });
    });
    $("key-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var form = event.target;
      api("POST", "/api/admin/api-keys", { name: form.elements.name.value }).then(function (res) {
        if (res.status !== 201) { return failed(res); }
        form.reset();
        var shown = $("key-new");
        shown.hidden = false;
        shown.textContent = "Copy this key now, it is not shown again:\n" + res.data.key;
        loadKeys(); loadAudit();
      });
    });
    loadTemplates();
    loadPlaybooks();
    loadRules();
    loadSettings();
    loadEmbed();
    loadKeys();
    loadAudit();
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
