// The settings page's Teams section: teams of reps (a live chat card names one with
// `team: NAME`), each with its members, through /api/admin/teams. It uses the helpers the
// settings script shares (window.ConciergeSettings); text is only ever set as textContent.
(function () {
  "use strict";
  var S = window.ConciergeSettings;
  if (!S) { return; }
  var $ = function (id) { return document.getElementById(id); };

  // The company's users, as the page lists them.
  function users() {
    return Array.prototype.map.call(document.querySelectorAll("#team-users li"), function (li) {
      return { id: Number(li.getAttribute("data-id")), name: li.textContent };
    });
  }

  function memberBoxes(selected) {
    var box = S.el("div", { className: "members" });
    users().forEach(function (u) {
      var cb = S.el("input", { type: "checkbox", value: String(u.id) });
      cb.checked = selected.indexOf(u.id) >= 0;
      box.appendChild(S.el("label", { className: "check" }, cb, " " + u.name));
    });
    return box;
  }

  function chosen(box) {
    return Array.prototype.filter.call(box.querySelectorAll("input"), function (i) { return i.checked; })
      .map(function (i) { return Number(i.value); });
  }

  function load() {
    S.api("GET", "/api/admin/teams").then(function (res) {
      if (res.status !== 200) { return S.failed(res); }
      var body = $("team-list").tBodies[0];
      S.clear(body);
      res.data.teams.forEach(function (t) {
        var name = S.el("input", { value: t.name, "aria-label": "Team name", maxlength: "60" });
        var members = memberBoxes(t.members);
        var save = function () {
          S.api("PUT", "/api/admin/teams/" + t.id, { name: name.value, members: chosen(members) }).then(function (r) {
            if (r.status !== 200) { return S.failed(r); }
            S.status("Team saved.");
            S.loadAudit();
          });
        };
        var remove = function () {
          S.api("DELETE", "/api/admin/teams/" + t.id).then(function (r) {
            if (r.status !== 204) { return S.failed(r); }
            load();
            S.loadAudit();
          });
        };
        body.appendChild(S.el("tr", {}, S.el("td", {}, name), S.el("td", {}, members),
          S.el("td", {},
            S.el("button", { type: "button", text: "Save", onclick: save }), " ",
            S.el("button", { type: "button", text: "Delete", onclick: remove }))));
      });
      S.resize();
    });
  }

  function start() {
    var form = $("team-form");
    if (!form) { return; }
    var members = memberBoxes([]);
    $("team-new-members").appendChild(members);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      S.api("POST", "/api/admin/teams", { name: form.elements.name.value, members: chosen(members) }).then(function (r) {
        if (r.status !== 201) { return S.failed(r); }
        form.reset();
        S.status("Team added.");
        load();
        S.loadAudit();
      });
    });
    load();
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
