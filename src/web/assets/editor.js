// The playbook form of the settings page: the playbook's own fields, its trigger and
// targeting (with a "test a URL" box), and a card list with a form per card type — every
// field of the format, every input kind and operator — where cards are added, moved and
// deleted and every transition is chosen from the draft's card ids. The form edits one
// JSON document; settings.js turns each change into the YAML view through the server and
// hands back the problems, listed next to their card. Text is only ever set as a value or
// as textContent.
(function () {
  "use strict";
  var TYPES = ["message", "question", "buttons", "condition", "set", "http", "live_chat", "capture", "notify", "redirect", "end"];
  var INPUTS = ["text", "long_text", "email", "phone", "number", "date", "url"];
  var OPS = ["eq", "ne", "contains", "in", "gt", "gte", "lt", "lte", "set", "unset", "matches"];
  var OP_WORDS = { eq: "is", ne: "is not", contains: "contains", "in": "is one of", gt: ">", gte: "≥", lt: "<", lte: "≤", set: "is set", unset: "is not set", matches: "matches (* wildcards)" };
  var VARIABLES = ["person.name", "person.email", "person.phone", "org.name", "org.address", "deal.value", "deal.currency",
    "deal.expected_close_date", "visitor.url", "visitor.referrer", "visitor.language", "visitor.utm_source", "visitor.utm_medium",
    "visitor.utm_campaign", "visitor.utm_term", "visitor.utm_content", "visitor.returning", "visitor.known", "score", "tags"];

  function f(key, kind, label, extra) {
    var spec = { key: key, kind: kind, label: label };
    Object.keys(extra || {}).forEach(function (k) { spec[k] = extra[k]; });
    return spec;
  }
  var REQ = { required: true };
  var FIELDS = {
    message: [f("text", "area", "Text", REQ), f("next", "card", "Then", REQ)],
    question: [f("text", "area", "Question"), f("input", "select", "Answer kind", { choices: INPUTS }), f("save", "var", "Save the answer in"),
      f("placeholder", "text", "Placeholder"), f("retry_text", "area", "When the answer is not valid"), f("max_tries", "number", "Tries (default 3)"),
      f("on_fail", "card", "After the last try (default: Then)"), f("next", "card", "Then", REQ)],
    buttons: [f("text", "area", "Text"), f("save", "var", "Save the choice in"), f("options", "options", "Buttons"),
      f("other_next", "card", "When the visitor types something else")],
    condition: [f("rules", "rules", "Rules, tried in order"), f("else", "card", "Else")],
    set: [f("set", "map", "Set variables", { keyLabel: "variable", valueLabel: "value" }), f("add_score", "number", "Add to the score"),
      f("add_tags", "list", "Add tags (comma separated)"), f("next", "card", "Then", REQ)],
    http: [f("method", "select", "Method", { choices: ["GET", "POST", "PUT", "PATCH", "DELETE"] }), f("url", "text", "Address", REQ),
      f("headers", "map", "Headers", { keyLabel: "header", valueLabel: "value" }), f("body", "area", "Body"),
      f("timeout_seconds", "number", "Timeout in seconds (default 10, at most 30)"),
      f("save", "map", "Save from the answer", { keyLabel: "variable", valueLabel: "JSON pointer, e.g. /status" }),
      f("next", "card", "Then", REQ), f("on_error", "card", "On error")],
    live_chat: [f("online_message", "area", "When a rep is online", REQ), f("wait_seconds", "number", "Seconds to wait for a rep (10–3600)"),
      f("offline_message", "area", "When nobody takes the chat", REQ), f("offline_next", "card", "Then, when nobody takes it", REQ)],
    capture: [f("create", "select", "Create", { choices: ["lead", "deal"] }), f("title", "text", "Title", REQ), f("value", "money", "Value"),
      f("expected_close_days", "number", "Expected to close in (days)"), f("owner", "owner", "Owner (rep, playbook or a CRM user id)"),
      f("label", "text", "Lead label"), f("activity", "activity", "Activity"), f("note", "select", "Note", { choices: ["transcript", "none"] }),
      f("next", "card", "Then", REQ)],
    notify: [f("to", "list", "To (comma separated)", REQ), f("subject", "text", "Subject", REQ), f("body", "area", "Body", REQ), f("next", "card", "Then", REQ)],
    redirect: [f("url", "text", "Address", REQ), f("next", "card", "Then (the flow ends when empty)")],
    end: [f("text", "area", "Text")]
  };
  var BLANK = {
    message: function () { return { text: "", next: "" }; },
    question: function (id) { return { text: "", input: "text", save: "vars." + id.replace(/[^a-z0-9_]/gi, "_"), next: "" }; },
    buttons: function () { return { text: "", options: [{ label: "", next: "" }] }; },
    condition: function () { return { rules: [{ when: { "var": "score", op: "gte", value: 10 }, next: "" }], "else": "" }; },
    set: function () { return { set: {}, next: "" }; },
    http: function () { return { method: "GET", url: "", next: "" }; },
    live_chat: function () { return { online_message: "", wait_seconds: 60, offline_message: "", offline_next: "" }; },
    capture: function () { return { create: "lead", title: "", next: "" }; },
    notify: function () { return { to: [], subject: "", body: "", next: "" }; },
    redirect: function () { return { url: "" }; },
    end: function () { return { text: "" }; }
  };

  var root = null;      // the form's container
  var notify = null;    // called with the document after every change
  var doc = null;       // the document the form edits
  var problems = [];
  var opened = {};      // card ids whose form is open
  var uid = 0;

  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; }
      else if (k === "className") { node.className = attrs[k]; }
      else if (k === "value") { node.value = attrs[k]; }
      else if (k.slice(0, 2) === "on") { node.addEventListener(k.slice(2), attrs[k]); }
      else { node.setAttribute(k, attrs[k]); }
    });
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined) { continue; }
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return node;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function isObject(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }
  function changed() { if (notify) { notify(doc); } }
  function rebuild() { render(doc, problems); changed(); }

  function cards() { return Array.isArray(doc.cards) ? doc.cards.filter(isObject) : []; }
  function cardIds() { return cards().map(function (c) { return c.id; }).filter(function (id) { return typeof id === "string"; }); }

  // A labelled control. `input` is the control (or a group of controls).
  function row(label, input, wide) {
    var id = "pf-" + (++uid);
    if (input.tagName === "INPUT" || input.tagName === "SELECT" || input.tagName === "TEXTAREA") { input.id = id; }
    return el("div", { className: wide ? "pf-row wide" : "pf-row" }, el("label", { "for": id, text: label }), input);
  }

  // Text fields: an empty optional field is left out of the document.
  function textInput(obj, key, required, area) {
    var input = area ? el("textarea", { rows: "2" }) : el("input", {});
    input.value = obj[key] === undefined || obj[key] === null ? "" : String(obj[key]);
    input.addEventListener("input", function () {
      if (input.value === "" && !required) { delete obj[key]; } else { obj[key] = input.value; }
      changed();
    });
    return input;
  }

  function numberInput(obj, key) {
    var input = el("input", { type: "number", step: "any" });
    input.value = obj[key] === undefined || obj[key] === null ? "" : String(obj[key]);
    input.addEventListener("input", function () {
      var v = input.value.trim();
      if (v === "") { delete obj[key]; } else if (!isNaN(Number(v))) { obj[key] = Number(v); }
      changed();
    });
    return input;
  }

  function selectInput(obj, key, choices, required, words) {
    var input = el("select", {});
    var current = obj[key] === undefined || obj[key] === null ? "" : String(obj[key]);
    if (!required) { input.appendChild(el("option", { value: "", text: "(default)" })); }
    choices.forEach(function (c) { input.appendChild(el("option", { value: c, text: words && words[c] ? words[c] : c })); });
    if (current && choices.indexOf(current) < 0) { input.appendChild(el("option", { value: current, text: current + " (not known)" })); }
    input.value = current;
    input.addEventListener("change", function () {
      if (input.value === "" && !required) { delete obj[key]; } else { obj[key] = input.value; }
      changed();
    });
    return input;
  }

  function splitList(text) { return text.split(",").map(function (s) { return s.trim(); }).filter(function (s) { return s; }); }

  function listInput(obj, key, required) {
    var input = el("input", {});
    input.value = Array.isArray(obj[key]) ? obj[key].join(", ") : (obj[key] === undefined ? "" : String(obj[key]));
    input.addEventListener("input", function () {
      var list = splitList(input.value);
      if (!list.length && !required) { delete obj[key]; } else { obj[key] = list; }
      changed();
    });
    return input;
  }

  function linesInput(obj, key) {
    var input = el("textarea", { rows: "2" });
    input.value = Array.isArray(obj[key]) ? obj[key].join("\n") : "";
    input.addEventListener("input", function () {
      obj[key] = input.value.split("\n").map(function (s) { return s.trim(); }).filter(function (s) { return s; });
      changed();
    });
    return input;
  }

  // A transition: one of the draft's card ids. A name that is no card stays visible.
  function cardSelect(obj, key, required, self) {
    var input = el("select", { "data-transition": key });
    var current = typeof obj[key] === "string" ? obj[key] : "";
    input.appendChild(el("option", { value: "", text: required ? "— choose a card —" : "— none —" }));
    cardIds().forEach(function (id) {
      input.appendChild(el("option", { value: id, text: id === self ? id + " (this card)" : id }));
    });
    if (current && cardIds().indexOf(current) < 0) { input.appendChild(el("option", { value: current, text: current + " (no such card)" })); }
    input.value = current;
    input.addEventListener("change", function () {
      if (input.value === "" && !required) { delete obj[key]; } else { obj[key] = input.value; }
      changed();
    });
    return input;
  }

  var datalist = null;
  function varInput(obj, key) {
    var input = textInput(obj, key, false);
    input.setAttribute("list", "pf-variables");
    return input;
  }

  // A value typed in the form keeps the type it had: numbers stay numbers.
  function typed(text, before) {
    if (typeof before === "number" && text.trim() !== "" && !isNaN(Number(text))) { return Number(text); }
    if (typeof before === "boolean" && (text === "true" || text === "false")) { return text === "true"; }
    return text;
  }

  function mapInput(obj, key, spec) {
    var box = el("div", { className: "pf-list" });
    if (!isObject(obj[key])) { obj[key] = {}; }
    var map = obj[key];
    Object.keys(map).forEach(function (name) {
      var k = el("input", { value: name, "aria-label": spec.keyLabel });
      var v = el("input", { "aria-label": spec.valueLabel });
      v.value = typeof map[name] === "string" ? map[name] : JSON.stringify(map[name]);
      var currentName = name;
      k.addEventListener("change", function () {
        var value = map[currentName];
        delete map[currentName];
        currentName = k.value.trim();
        if (currentName) { map[currentName] = value; }
        changed();
      });
      v.addEventListener("input", function () { map[currentName] = typed(v.value, map[currentName]); changed(); });
      box.appendChild(el("div", { className: "pf-pair" }, k, v,
        el("button", { type: "button", text: "Remove", onclick: function () { delete map[currentName]; rebuild(); } })));
    });
    var newKey = el("input", { placeholder: spec.keyLabel, "aria-label": "New " + spec.keyLabel });
    box.appendChild(el("div", { className: "pf-pair" }, newKey, el("button", { type: "button", text: "Add", onclick: function () {
      var name = newKey.value.trim();
      if (!name || Object.prototype.hasOwnProperty.call(map, name)) { return; }
      map[name] = "";
      rebuild();
    } })));
    return box;
  }

  // An optional group of fields (a capture's value or activity): a switch and the fields.
  function optionalGroup(obj, key, blank, fields) {
    var box = el("div", { className: "pf-list" });
    var on = el("input", { type: "checkbox" });
    on.checked = isObject(obj[key]);
    on.addEventListener("change", function () {
      if (on.checked) { obj[key] = blank(); } else { delete obj[key]; }
      rebuild();
    });
    box.appendChild(el("label", { className: "check" }, on, " include"));
    if (isObject(obj[key])) {
      fields.forEach(function (spec) { box.appendChild(row(spec.label, control(obj[key], spec, null))); });
    }
    return box;
  }

  function ownerInput(obj, key) {
    var input = el("input", { placeholder: "rep" });
    input.value = obj[key] === undefined ? "" : String(obj[key]);
    input.addEventListener("input", function () {
      var v = input.value.trim();
      if (!v) { delete obj[key]; } else if (/^[0-9]+$/.test(v)) { obj[key] = Number(v); } else { obj[key] = v; }
      changed();
    });
    return input;
  }

  function optionsInput(card) {
    var box = el("div", { className: "pf-list" });
    if (!Array.isArray(card.options)) { card.options = []; }
    card.options.forEach(function (o, i) {
      if (!isObject(o)) { return; }
      box.appendChild(el("fieldset", { className: "pf-sub" }, el("legend", { text: "Button " + (i + 1) }),
        row("Label", textInput(o, "label", true)), row("Value saved (default: the label)", textInput(o, "value", false)),
        row("Then", cardSelect(o, "next", true, card.id)), row("Add to the score", numberInput(o, "score")),
        row("Add tags (comma separated)", listInput(o, "tags", false)),
        el("div", {}, el("button", { type: "button", text: "Remove this button", onclick: function () { card.options.splice(i, 1); rebuild(); } }))));
    });
    box.appendChild(el("div", {}, el("button", { type: "button", text: "Add a button", onclick: function () { card.options.push({ label: "", next: "" }); rebuild(); } })));
    return box;
  }

  // A condition: a test `{var, op, value}` or a group `{all: […]}` / `{any: […]}`.
  function condInput(holder, key) {
    var cond = holder[key];
    if (!isObject(cond)) { cond = holder[key] = { "var": "", op: "eq", value: "" }; }
    if (Array.isArray(cond.all) || Array.isArray(cond.any)) {
      var mode = Array.isArray(cond.all) ? "all" : "any";
      var items = cond[mode];
      var pick = el("select", { "aria-label": "Combine" }, el("option", { value: "all", text: "all of" }), el("option", { value: "any", text: "any of" }));
      pick.value = mode;
      pick.addEventListener("change", function () { delete cond[mode]; cond[pick.value] = items; rebuild(); });
      var group = el("div", { className: "pf-group" }, pick);
      items.forEach(function (_, i) {
        group.appendChild(el("div", { className: "pf-pair" }, condInput(items, i),
          el("button", { type: "button", text: "Remove", onclick: function () { items.splice(i, 1); rebuild(); } })));
      });
      group.appendChild(el("div", {},
        el("button", { type: "button", text: "Add a test", onclick: function () { items.push({ "var": "", op: "eq", value: "" }); rebuild(); } }), " ",
        el("button", { type: "button", text: "Add a group", onclick: function () { items.push({ any: [{ "var": "", op: "eq", value: "" }] }); rebuild(); } })));
      return group;
    }
    var v = el("input", { list: "pf-variables", "aria-label": "Variable", placeholder: "variable" });
    v.value = typeof cond["var"] === "string" ? cond["var"] : "";
    v.addEventListener("input", function () { cond["var"] = v.value; changed(); });
    var op = selectInput(cond, "op", OPS, true, OP_WORDS);
    op.setAttribute("aria-label", "Operator");
    var value = el("input", { "aria-label": "Value", placeholder: "value" });
    var show = function () { value.hidden = cond.op === "set" || cond.op === "unset"; };
    value.value = Array.isArray(cond.value) ? cond.value.join(", ") : cond.value === undefined || cond.value === null ? "" : String(cond.value);
    value.addEventListener("input", function () {
      if (cond.op === "in") { cond.value = splitList(value.value); }
      else if (["gt", "gte", "lt", "lte"].indexOf(cond.op) >= 0 && value.value.trim() !== "" && !isNaN(Number(value.value))) { cond.value = Number(value.value); }
      else { cond.value = typed(value.value, cond.value); }
      changed();
    });
    op.addEventListener("change", function () {
      if (cond.op === "set" || cond.op === "unset") { delete cond.value; }
      else if (cond.op === "in" && !Array.isArray(cond.value)) { cond.value = splitList(value.value); }
      else if (cond.op !== "in" && Array.isArray(cond.value)) { cond.value = value.value; }
      show();
      changed();
    });
    show();
    return el("div", { className: "pf-test" }, v, op, value,
      el("button", { type: "button", text: "Make a group", title: "Combine this test with others", onclick: function () { holder[key] = { all: [cond] }; rebuild(); } }));
  }

  function rulesInput(card) {
    var box = el("div", { className: "pf-list" });
    if (!Array.isArray(card.rules)) { card.rules = []; }
    card.rules.forEach(function (r, i) {
      if (!isObject(r)) { return; }
      box.appendChild(el("fieldset", { className: "pf-sub" }, el("legend", { text: "Rule " + (i + 1) }),
        row("When", condInput(r, "when"), true), row("Then", cardSelect(r, "next", true, card.id)),
        el("div", {}, el("button", { type: "button", text: "Remove this rule", onclick: function () { card.rules.splice(i, 1); rebuild(); } }))));
    });
    box.appendChild(el("div", {}, el("button", { type: "button", text: "Add a rule", onclick: function () {
      card.rules.push({ when: { "var": "", op: "eq", value: "" }, next: "" });
      rebuild();
    } })));
    return box;
  }

  function control(obj, spec, card) {
    switch (spec.kind) {
      case "area": return textInput(obj, spec.key, spec.required, true);
      case "number": return numberInput(obj, spec.key);
      case "select": return selectInput(obj, spec.key, spec.choices, false);
      case "list": return listInput(obj, spec.key, spec.required);
      case "card": return cardSelect(obj, spec.key, spec.required, card ? card.id : null);
      case "var": return varInput(obj, spec.key);
      case "map": return mapInput(obj, spec.key, spec);
      case "owner": return ownerInput(obj, spec.key);
      case "options": return optionsInput(obj);
      case "rules": return rulesInput(obj);
      case "money": return optionalGroup(obj, spec.key, function () { return { amount: 0, currency: "EUR" }; },
        [f("amount", "number", "Amount"), f("currency", "text", "Currency", REQ)]);
      case "activity": return optionalGroup(obj, spec.key, function () { return { subject: "", type: "call", due_in_days: 1 }; },
        [f("subject", "text", "Subject", REQ), f("type", "text", "Type (call, meeting, task, …)"), f("due", "text", "Due (a date, optional)"),
          f("due_in_days", "number", "Due in days (default 1)")]);
      default: return textInput(obj, spec.key, spec.required, false);
    }
  }

  // ---- Trigger and targeting ----
  function urlPattern(pattern, url) {
    pattern = pattern.trim();
    url = url.split("#")[0];
    var trim = function (p) { var t = p.replace(/\/+$/, ""); return t === "" ? "/" : t; };
    if (pattern.charAt(0) === "/") {
      var path;
      try { path = new URL(url).pathname; } catch (e) { path = url.split("?")[0]; }
      return wildcard(trim(pattern), trim(path));
    }
    if (pattern.indexOf("://") >= 0) { return wildcard(pattern, url); }
    var at = url.indexOf("://");
    return wildcard(pattern, at >= 0 ? url.slice(at + 3) : url);
  }

  function wildcard(pattern, text) {
    var parts = pattern.toLowerCase().split("*").map(function (p) { return p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); });
    return new RegExp("^" + parts.join("[\\s\\S]*") + "$").test(text.toLowerCase());
  }

  function testUrl(urls, url) {
    var include = Array.isArray(urls.include) ? urls.include : [];
    var exclude = Array.isArray(urls.exclude) ? urls.exclude : [];
    var inc = include.filter(function (p) { return urlPattern(p, url); });
    var exc = exclude.filter(function (p) { return urlPattern(p, url); });
    if (exc.length) { return "Not shown: excluded by " + exc[0]; }
    if (!include.length) { return "Shown: no include rule, every page matches"; }
    return inc.length ? "Shown: matches " + inc[0] : "Not shown: matches no include rule";
  }

  function triggerForm() {
    if (!isObject(doc.trigger)) { doc.trigger = { on: "page_load" }; }
    var t = doc.trigger;
    if (!isObject(t.urls)) { t.urls = {}; }
    var box = el("fieldset", { className: "pf-top", id: "pf-trigger" }, el("legend", { text: "Trigger and targeting" }));
    var on = selectInput(t, "on", ["page_load", "time_on_page", "click", "keyword"], true,
      { page_load: "when the page loads", time_on_page: "after some time on the page", click: "on a click", keyword: "when the visitor writes a keyword" });
    on.name = "trigger.on";
    var delay = row("Seconds on the page", numberInput(t, "delay_seconds"));
    var selector = row("CSS selector of the element clicked", textInput(t, "selector", false));
    var keywords = row("Keywords (comma separated)", listInput(t, "keywords", false));
    var show = function () {
      delay.hidden = t.on !== "time_on_page";
      selector.hidden = t.on !== "click";
      keywords.hidden = t.on !== "keyword";
    };
    on.addEventListener("change", function () {
      if (t.on !== "time_on_page") { delete t.delay_seconds; } else if (t.delay_seconds === undefined) { t.delay_seconds = 5; }
      if (t.on !== "click") { delete t.selector; }
      if (t.on !== "keyword") { delete t.keywords; }
      rebuild();
    });
    show();
    var tryUrl = el("input", { placeholder: "https://example.com/pricing", "aria-label": "A page address to test" });
    var result = el("span", { className: "muted", id: "pf-url-result" });
    var test = function () { result.textContent = tryUrl.value.trim() ? testUrl(t.urls, tryUrl.value.trim()) : ""; };
    tryUrl.addEventListener("input", test);
    var include = linesInput(t.urls, "include");
    var exclude = linesInput(t.urls, "exclude");
    include.addEventListener("input", test);
    exclude.addEventListener("input", test);
    box.appendChild(row("Start", on));
    box.appendChild(delay);
    box.appendChild(selector);
    box.appendChild(keywords);
    box.appendChild(row("Pages (one per line, * for anything; empty = every page)", include));
    box.appendChild(row("Except pages (one per line)", exclude));
    box.appendChild(el("div", { className: "pf-row wide" }, el("span", { text: "Test a page address" }), el("div", { className: "pf-test" }, tryUrl, result)));
    box.appendChild(row("Visitors", selectInput(t, "visitors", ["any", "new", "returning", "known", "unknown"], false,
      { any: "everyone", "new": "first visit", returning: "returning", known: "known (we have their e-mail)", unknown: "unknown" })));
    box.appendChild(row("Browser languages (codes like en, fr; comma separated; empty = every language)", listInput(t, "languages", false)));
    box.appendChild(row("Business hours", selectInput(t, "hours", ["any", "open", "closed"], false,
      { any: "at any time", open: "only while open", closed: "only while closed" })));
    return box;
  }

  function playbookForm() {
    var box = el("fieldset", { className: "pf-top" }, el("legend", { text: "Playbook" }));
    box.appendChild(row("Name", textInput(doc, "name", true)));
    box.appendChild(row("Language of the widget's texts", selectInput(doc, "language", ["en", "fr", "pt", "de", "es"], false)));
    box.appendChild(row("Priority when created (then the order of the playbook list decides)", numberInput(doc, "priority")));
    box.appendChild(row("Exit words (comma separated)", listInput(doc, "exit_words", false)));
    box.appendChild(row("First card", cardSelect(doc, "start", true, null)));
    return box;
  }

  // ---- Cards ----
  function renameCard(card, to) {
    var from = card.id;
    (function walk(value) {
      if (Array.isArray(value)) { value.forEach(walk); return; }
      if (!isObject(value)) { return; }
      Object.keys(value).forEach(function (k) {
        if (/^(next|else|on_fail|on_error|offline_next|other_next)$/.test(k) && value[k] === from) { value[k] = to; }
        else if (k !== "id") { walk(value[k]); }
      });
    })(doc.cards);
    if (doc.start === from) { doc.start = to; }
    if (opened[from]) { delete opened[from]; opened[to] = true; }
    card.id = to;
  }

  function cardForm(card, index, list) {
    var id = typeof card.id === "string" ? card.id : "";
    var type = typeof card.type === "string" ? card.type : "";
    var box = el("details", { className: "pf-card", "data-card": id });
    box.open = !!opened[id];
    box.addEventListener("toggle", function () { if (box.open) { opened[card.id] = true; } else { delete opened[card.id]; } });
    var count = el("span", { className: "badge warn pf-count", hidden: "" });
    box.appendChild(el("summary", {}, el("strong", { text: id || "(no id)" }), " ", el("span", { className: "muted", text: type || "(no type)" }),
      id === doc.start ? el("span", { className: "badge", text: "first" }) : null, " ", count));
    var idInput = el("input", { value: id, pattern: "[A-Za-z0-9_-]+" });
    idInput.addEventListener("change", function () {
      var to = idInput.value.trim();
      if (!to || to === card.id || cardIds().indexOf(to) >= 0) { idInput.value = card.id; return; }
      renameCard(card, to);
      rebuild();
    });
    box.appendChild(el("ul", { className: "problems pf-problems" }));
    box.appendChild(row("Card id (transitions follow a rename)", idInput));
    var specs = FIELDS[type];
    if (!specs) { box.appendChild(el("p", { className: "muted", text: "Unknown card type: edit this card in the YAML view." })); }
    (specs || []).forEach(function (spec) {
      var wide = ["options", "rules", "map", "money", "activity"].indexOf(spec.kind) >= 0;
      box.appendChild(row(spec.label, control(card, spec, card), wide));
    });
    var move = function (by) {
      var to = index + by;
      if (to < 0 || to >= list.length) { return; }
      list.splice(index, 1);
      list.splice(to, 0, card);
      rebuild();
    };
    box.appendChild(el("div", { className: "toolbar" },
      el("button", { type: "button", text: "Move up", onclick: function () { move(-1); } }),
      el("button", { type: "button", text: "Move down", onclick: function () { move(1); } }),
      el("button", { type: "button", text: "Delete card", onclick: function () {
        if (!window.confirm("Delete the card " + card.id + "? Transitions to it will show as problems.")) { return; }
        list.splice(index, 1);
        rebuild();
      } })));
    if (index === 0) { box.lastChild.firstChild.disabled = true; }
    if (index === list.length - 1) { box.lastChild.children[1].disabled = true; }
    return box;
  }

  function addCardForm() {
    var type = el("select", { "aria-label": "Type of the new card", id: "pf-new-type" });
    TYPES.forEach(function (t) { type.appendChild(el("option", { value: t, text: t })); });
    var id = el("input", { placeholder: "new_card_id", "aria-label": "Id of the new card", id: "pf-new-id" });
    var add = el("button", { type: "button", text: "Add card", id: "pf-add", onclick: function () {
      var name = id.value.trim();
      if (!/^[A-Za-z0-9_-]+$/.test(name) || cardIds().indexOf(name) >= 0) { id.focus(); id.setCustomValidity("a new id: letters, digits, _ and -"); id.reportValidity(); return; }
      id.setCustomValidity("");
      var card = Object.assign({ id: name, type: type.value }, BLANK[type.value](name));
      if (!Array.isArray(doc.cards)) { doc.cards = []; }
      doc.cards.push(card);
      if (!doc.start) { doc.start = name; }
      opened[name] = true;
      rebuild();
      open(name);
    } });
    return el("div", { className: "toolbar" }, "New card: ", type, id, add);
  }

  function render(newDoc, newProblems) {
    if (!root) { return; }
    doc = isObject(newDoc) ? newDoc : null;
    problems = newProblems || [];
    clear(root);
    if (!datalist) {
      datalist = el("datalist", { id: "pf-variables" });
      VARIABLES.forEach(function (v) { datalist.appendChild(el("option", { value: v })); });
      document.body.appendChild(datalist);
    }
    if (!doc) {
      root.appendChild(el("p", { className: "muted", text: "The YAML cannot be read as a playbook: fix it in the YAML view." }));
      return;
    }
    root.appendChild(el("ul", { className: "problems pf-problems", id: "pf-general" }));
    root.appendChild(playbookForm());
    root.appendChild(triggerForm());
    var list = Array.isArray(doc.cards) ? doc.cards : (doc.cards = []);
    var box = el("div", { id: "pf-cards" });
    list.forEach(function (card, i) { if (isObject(card)) { box.appendChild(cardForm(card, i, list)); } });
    root.appendChild(el("h3", { text: "Cards" }));
    root.appendChild(box);
    root.appendChild(addCardForm());
    showProblems(problems);
  }

  // Problems next to their card; the playbook's own (and those of cards not in the form)
  // above the form.
  function showProblems(list) {
    if (!root || !doc) { return; }
    problems = list || [];
    var boxes = {};
    Array.prototype.forEach.call(root.querySelectorAll("details.pf-card"), function (d) {
      boxes[d.getAttribute("data-card")] = d;
      clear(d.querySelector(".pf-problems"));
      var count = d.querySelector(".pf-count");
      count.hidden = true;
      count.textContent = "";
    });
    var general = root.querySelector("#pf-general");
    if (general) { clear(general); }
    problems.forEach(function (p) {
      var text = (p.line ? "line " + p.line + ": " : "") + p.message;
      var box = p.card ? boxes[p.card] : null;
      if (box) {
        box.querySelector(".pf-problems").appendChild(el("li", { text: text }));
        var count = box.querySelector(".pf-count");
        count.hidden = false;
        count.textContent = box.querySelectorAll(".pf-problems li").length + (box.querySelectorAll(".pf-problems li").length === 1 ? " problem" : " problems");
      } else if (general) {
        general.appendChild(el("li", { text: (p.card ? "card '" + p.card + "': " : "") + text }));
      }
    });
  }

  // Open a card's form (from the flow graph).
  function open(id) {
    if (!root) { return; }
    var box = null;
    Array.prototype.forEach.call(root.querySelectorAll("details.pf-card"), function (d) { if (d.getAttribute("data-card") === id) { box = d; } });
    if (!box) { return; }
    box.open = true;
    opened[id] = true;
    box.scrollIntoView({ block: "nearest" });
    var first = box.querySelector("textarea, input, select");
    if (first) { first.focus({ preventScroll: true }); }
  }

  window.ConciergeEditor = {
    mount: function (container, onChange) { root = container; notify = onChange; },
    render: render,
    problems: showProblems,
    open: open,
    reset: function () { opened = {}; },
    document: function () { return doc; },
    // Whether the admin is typing in the form (a re-render would take the focus away).
    focused: function () { return !!(root && root.contains(document.activeElement) && /INPUT|TEXTAREA/.test(document.activeElement.tagName)); },
    testUrl: testUrl,
    el: el,
    clear: clear
  };
})();
