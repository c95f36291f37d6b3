// The settings page's Reports section: the admin picks a playbook, a range, a version, an
// audience and maybe a version to compare with; the server answers with the charts (SVG
// it drew) and their tables as HTML it escaped, and the download links follow the choice.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var form = $("rp-form");
  if (!form) { return; }
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";

  function get(path) {
    return fetch(path, { headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" });
  }

  function option(value, text) {
    var o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    return o;
  }

  function resize() {
    var sdk = window.ConciergeSdk;
    if (sdk && sdk.initialized) {
      try { sdk.execute("resize", { height: document.documentElement.scrollHeight }).catch(function () {}); } catch (e) { /* outside the CRM */ }
    }
  }

  function params() {
    var q = new URLSearchParams();
    var range = $("rp-range").value;
    q.set("range", range);
    if (range === "custom") {
      q.set("from", $("rp-from").value);
      q.set("to", $("rp-to").value);
    }
    ["version", "known", "returning"].forEach(function (k) {
      var v = $("rp-" + k).value;
      if (v !== "") { q.set(k, v); }
    });
    return q;
  }

  function paths() {
    var id = encodeURIComponent($("rp-playbook").value);
    var other = $("rp-compare").value;
    var q = params();
    var base = "/api/admin/reports/playbooks/" + id;
    if (other !== "") {
      var mine = q.get("version") || $("rp-version").options[1].value;
      q.delete("version");
      q.set("a", mine);
      q.set("b", other);
      base += "/compare";
    }
    return { base: base, query: q };
  }

  var pending = 0;
  function show() {
    var custom = $("rp-range").value === "custom";
    Array.prototype.forEach.call(document.querySelectorAll(".rp-custom"), function (n) { n.hidden = !custom; });
    if (!$("rp-playbook").value || (custom && !($("rp-from").value && $("rp-to").value))) { return; }
    var p = paths();
    var link = function (format) {
      var q = new URLSearchParams(p.query);
      q.set("format", format);
      return p.base + "?" + q.toString();
    };
    $("rp-csv").href = link("csv");
    $("rp-json").href = link("json");
    var mine = ++pending;
    var out = $("rp-out");
    out.setAttribute("aria-busy", "true");
    get(link("html")).then(function (r) {
      return r.text().then(function (t) { return { ok: r.ok, text: t }; });
    }).then(function (r) {
      if (mine !== pending) { return; }
      out.removeAttribute("aria-busy");
      if (r.ok) {
        // Server-rendered: every text in it was escaped by the server's templates.
        out.innerHTML = r.text;
      } else {
        var msg = "The report could not be made.";
        try { msg = JSON.parse(r.text).error.message; } catch (e) { /* not JSON */ }
        out.textContent = msg;
      }
      resize();
    });
  }

  function loadVersions() {
    var id = $("rp-playbook").value;
    var version = $("rp-version");
    var compare = $("rp-compare");
    [version, compare].forEach(function (s) { while (s.options.length > 1) { s.remove(1); } });
    if (!id) { return Promise.resolve(); }
    return get("/api/admin/playbooks/" + encodeURIComponent(id) + "/versions")
      .then(function (r) { return r.ok ? r.json() : { versions: [] }; })
      .then(function (data) {
        (data.versions || []).forEach(function (v) {
          version.appendChild(option(String(v.version), "Version " + v.version));
          compare.appendChild(option(String(v.version), "Version " + v.version));
        });
        compare.disabled = (data.versions || []).length < 2;
      });
  }

  get("/api/admin/playbooks").then(function (r) { return r.ok ? r.json() : { playbooks: [] }; })
    .then(function (data) {
      var list = Array.isArray(data) ? data : (data.playbooks || []);
      var select = $("rp-playbook");
      list.forEach(function (p) { select.appendChild(option(p.id, p.name + " (" + p.slug + ")")); });
      var today = new Date().toISOString().slice(0, 10);
      $("rp-to").value = today;
      $("rp-from").value = new Date(Date.now() - 29 * 86400000).toISOString().slice(0, 10);
      return loadVersions();
    }).then(show);

  $("rp-playbook").addEventListener("change", function () { loadVersions().then(show); });
  ["rp-range", "rp-from", "rp-to", "rp-version", "rp-known", "rp-returning", "rp-compare"].forEach(function (id) {
    $(id).addEventListener("change", show);
  });
  form.addEventListener("submit", function (e) { e.preventDefault(); show(); });
})();
