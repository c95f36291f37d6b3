// The rep's inbox (/inbox): online toggle, folders with live counts, chat list, transcript,
// composer, assignment, close, the side panel and notifications. It talks only to the rep
// API of this app (/api/inbox/*, every write with the page's CSRF token) and follows its
// event stream. Plain ES2017, no dependencies. Text typed by visitors and reps is only ever
// set as textContent: nothing here feeds the HTML parser.
(function () {
  "use strict";
  var API = "/api/inbox/";
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var CSRF = csrfMeta ? csrfMeta.getAttribute("content") : "";
  var FOLDERS = ["unassigned", "mine", "closed", "all"];
  var KINDS = ["new_chat", "assigned", "message"];
  var LINK = ["http:", "https:", "mailto:", "tel:"];

  var S = {
    me: null,
    folder: "unassigned",
    loads: 0,         // how many list loads were asked for: only the latest answer counts
    chats: {},        // id → summary, of every chat the page knows
    counts: {},
    current: null,    // id of the open chat
    detail: null,     // the open chat's detail answer
    seen: {},         // message ids shown in the transcript
    unread: {},       // chat id → true while it has unseen visitor messages
    reps: [],
    es: null,
    live: false,      // the event stream is open
    opened: false,    // it was open once: a later opening catches up
    openedAt: 0,
    retries: 0,       // failed connections since the last good one
    retryTimer: null,
    signedOut: false,
    typedAt: 0,
    offerTimer: null,
    audio: null
  };

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
  // `u` if it is an absolute URL with one of the `ok` schemes, else "".
  function safe(u, ok) {
    if (!u) return "";
    try {
      var p = new URL(String(u), location.href);
      return (ok || LINK).indexOf(p.protocol) >= 0 ? p.href : "";
    } catch (e) { return ""; }
  }

  // ---- times ----
  function clock(ms) {
    if (!ms) return "";
    var d = new Date(ms);
    var t = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    if (new Date().toDateString() === d.toDateString()) return t;
    return d.toLocaleDateString([], { day: "numeric", month: "short" }) + " " + t;
  }
  function ago(ms) {
    var s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return "under a minute";
    if (s < 3600) return Math.round(s / 60) + " min";
    return Math.floor(s / 3600) + " h " + Math.round((s % 3600) / 60) + " min";
  }

  // ---- the API ----
  function api(method, path, body) {
    var headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = CSRF;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(API + path, {
      method: method,
      headers: headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      if (r.status === 204) return null;
      return r.json().catch(function () { return {}; }).then(function (d) {
        if (r.ok) return d;
        var err = (d && d.error) || {};
        var e = new Error(err.message || r.statusText || "The request failed");
        e.status = r.status;
        e.code = err.code;
        e.assignee = err.assignee;
        throw e;
      });
    });
  }

  // ---- in-page notices, desktop notifications and the sound ----
  function notice(title, body, conversationId, kind) {
    var box = el("div", "notice");
    box.setAttribute("role", "status");
    if (conversationId) box.dataset.conversation = conversationId;
    if (kind) box.dataset.kind = kind;
    var text = box.appendChild(el("div"));
    text.appendChild(el("strong", "", title));
    if (body) text.appendChild(el("span", "", body));
    var x = box.appendChild(el("button", "", "×"));
    x.type = "button";
    x.setAttribute("aria-label", "Dismiss");
    var gone = function () { if (box.parentNode) box.parentNode.removeChild(box); };
    box.addEventListener("click", function (e) {
      gone();
      if (!x.contains(e.target) && conversationId) open(conversationId);
    });
    $("notices").appendChild(box);
    setTimeout(gone, 8000);
  }
  function dropNotices(kind, conversationId) {
    document.querySelectorAll('#notices .notice[data-kind="' + kind + '"]').forEach(function (n) {
      if (n.dataset.conversation === conversationId && n.parentNode) n.parentNode.removeChild(n);
    });
  }
  function chime() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    try {
      var ctx = S.audio || (S.audio = new Ctx());
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      var t = ctx.currentTime;
      osc.type = "sine";
      osc.frequency.setValueAtTime(880, t);
      osc.frequency.setValueAtTime(1320, t + 0.12);
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.2, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.35);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t);
      osc.stop(t + 0.4);
    } catch (e) { /* no sound available */ }
  }
  // Browsers start audio only after a gesture: unlock it on the first click.
  document.addEventListener("click", function () {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    try {
      if (!S.audio) S.audio = new Ctx();
      if (S.audio.state === "suspended") S.audio.resume();
    } catch (e) { /* no sound available */ }
  }, { once: true });

  function notify(d) {
    // A message in the chat on screen needs no notice.
    var onScreen = d.conversation_id && d.conversation_id === S.current && !document.hidden;
    if (d.kind === "message" && onScreen) return;
    // A chat offered to this rep has the offer bar already.
    if (d.kind === "new_chat" && offered(d.conversation_id)) return;
    notice(d.title || "Concierge", d.body || "", d.conversation_id, d.kind);
    var away = document.hidden || !document.hasFocus();
    if (away && window.Notification && Notification.permission === "granted") {
      try {
        var n = new Notification(d.title || "Concierge", { body: d.body || "", tag: d.conversation_id || d.kind });
        n.onclick = function () {
          window.focus();
          if (d.conversation_id) open(d.conversation_id);
          n.close();
        };
      } catch (e) { /* notifications refused in this frame */ }
    }
    if (document.hidden) chime();
  }

  function desktopState() {
    var state = $("desktop-state");
    var allow = $("desktop-allow");
    if (!window.Notification) {
      state.textContent = "This browser shows no desktop notifications; they appear in the page.";
      allow.hidden = true;
    } else if (Notification.permission === "granted") {
      state.textContent = "Desktop notifications are on while this tab is in the background (with a sound).";
      allow.hidden = true;
    } else if (Notification.permission === "denied") {
      state.textContent = "Desktop notifications are blocked by the browser; they appear in the page.";
      allow.hidden = true;
    } else {
      state.textContent = "Desktop notifications are off; they appear in the page.";
      allow.hidden = false;
    }
  }

  // ---- online toggle ----
  function showPresence() {
    var me = S.me || {};
    var toggle = $("online-toggle");
    toggle.checked = !!me.toggle;
    toggle.disabled = !S.me;
    var label = !me.toggle ? "Offline" : me.online ? "Online" : "Online, not reachable now";
    $("online-label").textContent = label;
    toggle.closest(".switch").classList.toggle("away", !!me.toggle && !me.online);
    toggle.closest(".switch").title = me.toggle && !me.online
      ? "Switched on, but outside the company's business hours or not connected"
      : "Receive live chats";
    list();
  }
  $("online-toggle").addEventListener("change", function (e) {
    var want = e.target.checked;
    api("POST", "presence", { online: want }).then(function (d) {
      S.me.toggle = want;
      S.me.online = !!d.online;
      showPresence();
    }, function (err) {
      e.target.checked = !want;
      notice("Could not switch " + (want ? "on" : "off"), err.message);
    });
  });

  // ---- folders and the chat list ----
  function belongs(c, folder) {
    var mine = c.assignee && S.me && c.assignee.user_id === S.me.user_id;
    if (folder === "unassigned") return c.status === "unassigned";
    if (folder === "mine") return c.status === "assigned" && !!mine;
    if (folder === "closed") return c.status === "closed";
    return c.status !== "bot";
  }
  function showCounts() {
    FOLDERS.forEach(function (f) {
      var n = S.counts[f];
      var badge = document.querySelector('[data-count="' + f + '"]');
      badge.textContent = n == null ? "" : String(n);
      badge.classList.toggle("hot", f === "unassigned" && n > 0);
    });
    var all = document.querySelector('[data-folder="all"]');
    all.hidden = S.counts.all == null;
    var sdk = window.ConciergeSdk;
    if (sdk && sdk.execute) {
      sdk.execute("set_notification", { number: S.counts.unassigned || 0 }).catch(function () {});
    }
  }
  function emptyText() {
    var online = S.me && S.me.toggle;
    switch (S.folder) {
      case "unassigned":
        return online
          ? ["Nobody is waiting.", "New chats appear here; you will be notified."]
          : ["You are offline — switch on to receive chats.", "Chats waiting for a rep appear here."];
      case "mine":
        return ["No chats assigned to you.", "Take one from Unassigned with “Assign to me”."];
      case "closed":
        return ["No closed chats yet.", "Closed and missed chats are kept here."];
      default:
        return ["No chats yet.", ""];
    }
  }
  function list() {
    var ul = $("chat-list");
    var items = Object.keys(S.chats).map(function (id) { return S.chats[id]; })
      .filter(function (c) { return belongs(c, S.folder); })
      .sort(function (a, b) {
        if (S.folder === "unassigned") return (a.waiting_since || a.created_at) - (b.waiting_since || b.created_at);
        return (b.closed_at || b.last_message_at || 0) - (a.closed_at || a.last_message_at || 0);
      });
    clear(ul);
    var empty = $("list-empty");
    empty.hidden = items.length > 0;
    if (!items.length && S.me) {
      clear(empty);
      var t = emptyText();
      empty.appendChild(el("strong", "", t[0]));
      if (t[1]) empty.appendChild(document.createTextNode(t[1]));
    }
    items.forEach(function (c) {
      var li = ul.appendChild(el("li"));
      var b = li.appendChild(el("button"));
      b.type = "button";
      b.dataset.id = c.id;
      if (c.id === S.current) b.setAttribute("aria-current", "true");
      if (S.unread[c.id]) b.classList.add("unread");
      var line = b.appendChild(el("div", "line"));
      line.appendChild(el("span", "name", visitorName(c)));
      line.appendChild(el("span", "time", clock(c.closed_at || c.last_message_at || c.created_at)));
      b.appendChild(el("div", "preview", c.preview || ""));
      var tags = b.appendChild(el("div", "line"));
      if (c.status === "unassigned" && c.waiting_since) tags.appendChild(el("span", "tag waiting", "waiting " + ago(c.waiting_since)));
      if (c.outcome === "missed") tags.appendChild(el("span", "tag missed", "missed"));
      if (c.team) tags.appendChild(el("span", "tag", c.team));
      if (c.assignee && S.folder !== "mine") tags.appendChild(el("span", "time", c.assignee.name));
      b.addEventListener("click", function () { open(c.id); });
    });
  }
  function visitorName(c) {
    var v = c.visitor || {};
    return v.name || v.email || "Visitor " + String(c.id).slice(-4);
  }
  function load() {
    var folder = S.folder;
    var n = ++S.loads;
    return api("GET", "conversations?folder=" + folder).then(function (d) {
      // An answer overtaken by a later load (another folder clicked meanwhile) would put
      // its folder's chats in place of the shown folder's: the later answer decides.
      if (n !== S.loads) return;
      var keep = {};
      // Chats of other folders stay known (counts, the open chat); this folder is replaced.
      Object.keys(S.chats).forEach(function (id) {
        if (!belongs(S.chats[id], folder)) keep[id] = S.chats[id];
      });
      (d.conversations || []).forEach(function (c) { keep[c.id] = c; });
      S.chats = keep;
      S.counts = d.counts || {};
      showCounts();
      list();
    }, function (e) {
      if (n !== S.loads) return;
      var empty = $("list-empty");
      clear(empty);
      empty.appendChild(el("strong", "", "The chats could not be loaded."));
      empty.appendChild(document.createTextNode(e.message));
      empty.hidden = false;
    });
  }
  document.querySelectorAll("[data-folder]").forEach(function (b) {
    b.addEventListener("click", function () {
      S.folder = b.dataset.folder;
      document.querySelectorAll("[data-folder]").forEach(function (x) {
        x.setAttribute("aria-pressed", String(x === b));
      });
      list();
      load();
    });
  });

  // ---- rich text of bot and rep messages: **bold**, *italic*, [label](url), "- " lists;
  // a backslash makes the next \ * [ ] ( ) ! - plain text (values inserted by the server) ----
  var INLINE = /\\([\\*\[\]()!-])|!\[((?:\\.|[^\]\\])*)\]\(((?:\\.|[^)\s\\])+)\)|\[((?:\\.|[^\]\\])+)\]\(((?:\\.|[^)\s\\])+)\)|\*\*((?:\\.|[^\\])+?)\*\*|\*((?![*\s])(?:\\.|[^*\\])+)\*/;
  function unesc(s) {
    return s.replace(/\\([\\*\[\]()!-])/g, "$1");
  }
  function inline(parent, s) {
    var m;
    while ((m = INLINE.exec(s))) {
      if (m.index) parent.append(s.slice(0, m.index));
      if (m[1]) {
        parent.append(m[1]);
      } else if (m[3] || m[5]) {
        var href = safe(unesc(m[3] || m[5]));
        var a = parent;
        if (href) {
          a = parent.appendChild(el("a"));
          a.href = href;
          a.target = "_blank";
          a.rel = "noopener noreferrer";
        }
        if (m[3]) a.append(unesc(m[2]) || "picture");
        else inline(a, m[4]);
      } else {
        inline(parent.appendChild(el(m[6] ? "strong" : "em")), m[6] || m[7]);
      }
      s = s.slice(m.index + m[0].length);
    }
    if (s) parent.append(s);
  }
  function rich(parent, text) {
    var ul = null;
    String(text || "").split("\n").forEach(function (line, i) {
      var item = /^\s*- (.*)$/.exec(line);
      if (item) {
        if (!ul) ul = parent.appendChild(el("ul"));
        inline(ul.appendChild(el("li")), item[1]);
        return;
      }
      if (i && !ul) parent.append("\n");
      ul = null;
      inline(parent, line);
    });
  }

  // ---- the open chat ----
  var AUTHORS = { visitor: "Visitor", bot: "Bot", rep: "Rep", system: "" };
  function addMessage(m) {
    if (!m || S.seen[m.id]) return;
    S.seen[m.id] = true;
    var box = $("transcript");
    var author = AUTHORS.hasOwnProperty(m.author) ? m.author : "bot";
    var li = el("li", "msg msg-" + author);
    li.dataset.seq = m.seq;
    var who = author === "visitor" ? visitorName(S.chats[S.current] || {}) : m.author_name || AUTHORS[author];
    if (author !== "system") li.appendChild(el("div", "meta", (who ? who + " · " : "") + clock(m.created_at)));
    var text = li.appendChild(el("div", "text"));
    // What a visitor types is shown exactly as typed; bot and rep text as the rich subset.
    if (author === "visitor") text.textContent = m.text || "";
    else rich(text, m.text);
    if (author === "system") text.append(" · " + clock(m.created_at));
    if (m.buttons && m.buttons.length) li.appendChild(el("div", "choices", "Buttons: " + m.buttons.join(" · ")));
    // In order of seq, whatever order the events arrived in.
    var after = null;
    for (var n = box.lastElementChild; n; n = n.previousElementSibling) {
      if (Number(n.dataset.seq) <= m.seq) break;
      after = n;
    }
    var stick = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    box.insertBefore(li, after);
    if (stick || m.author === "rep") box.scrollTop = box.scrollHeight;
    if (author === "visitor") $("typing").hidden = true;
  }

  function alertText(text) {
    var a = $("chat-alert");
    a.textContent = text || "";
    a.hidden = !text;
  }

  function showChat() {
    var c = S.chats[S.current];
    if (!c) return;
    var me = S.me || {};
    var mine = c.assignee && c.assignee.user_id === me.user_id;
    $("chat-title").textContent = visitorName(c);
    var status = c.status === "closed"
      ? (c.outcome === "missed" ? "Missed" : "Closed") + (c.closed_at ? " · " + clock(c.closed_at) : "")
      : c.status === "unassigned" ? "Waiting" + (c.waiting_since ? " for " + ago(c.waiting_since) : "")
      : c.status === "assigned" ? "With " + (mine ? "you" : c.assignee.name)
      : "With the bot";
    $("chat-status").textContent = status + (c.team ? " · team " + c.team : "");
    var open = c.status !== "closed";
    $("assign-me").hidden = !(open && !mine);
    $("close-chat").hidden = !open;
    var sel = $("reassign");
    sel.hidden = !open;
    clear(sel);
    var first = sel.appendChild(el("option", "", mine || c.status === "unassigned" ? "Assign to…" : "Reassign…"));
    first.value = "";
    if (c.status === "assigned") sel.appendChild(el("option", "", "Back to Unassigned")).value = "none";
    S.reps.forEach(function (r) {
      if (c.assignee && r.user_id === c.assignee.user_id) return;
      var o = sel.appendChild(el("option", "", r.name + (r.user_id === me.user_id ? " (me)" : "") +
        (r.online ? "" : " — offline") + " · " + r.open_chats + " open"));
      o.value = String(r.user_id);
    });
    // Replying to a waiting chat takes it.
    var canWrite = open && (mine || c.status === "unassigned");
    $("reply").disabled = $("send").disabled = !canWrite;
    var hint = $("composer-hint");
    hint.textContent = !open ? "This chat is closed. The visitor's next message starts a new chat."
      : c.status === "unassigned" ? "Replying assigns the chat to you."
      : !mine && c.assignee ? c.assignee.name + " has this chat."
      : "";
    hint.hidden = !hint.textContent;
    document.querySelectorAll("#chat-list button").forEach(function (b) {
      if (b.dataset.id === S.current) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
    });
  }

  function open(id) {
    var changed = id !== S.current;
    S.current = id;
    delete S.unread[id];
    $("panes").dataset.view = "chat";
    $("chat-empty").hidden = true;
    $("chat").hidden = false;
    if (changed) {
      S.seen = {};
      S.detail = null;
      clear($("transcript"));
      $("typing").hidden = true;
      alertText("");
      $("reply").value = "";
    }
    showChat();
    list();
    return api("GET", "conversations/" + encodeURIComponent(id)).then(function (d) {
      if (S.current !== id) return;
      S.chats[id] = d.conversation;
      S.detail = d;
      (d.messages || []).forEach(addMessage);
      showChat();
      showDetails();
      if (changed) {
        var box = $("transcript");
        box.scrollTop = box.scrollHeight;
      }
    }, function (e) {
      if (S.current === id) alertText(e.status === 404 ? "This chat is no longer yours to see." : e.message);
    });
  }
  function closeView() {
    S.current = null;
    $("panes").dataset.view = "list";
    $("chat").hidden = true;
    $("chat-empty").hidden = false;
    list();
  }
  $("back").addEventListener("click", closeView);

  function whoHasIt(e) {
    if (e.code === "already_assigned" && e.assignee) return e.assignee.name + " has this chat.";
    if (e.code === "limit_reached") return e.message || "You have reached your limit of open chats. Close one first.";
    if (e.code === "closed") return "This chat is closed.";
    return e.message;
  }
  function assign(body) {
    var id = S.current;
    alertText("");
    return api("POST", "conversations/" + encodeURIComponent(id) + "/assign", body).then(function (c) {
      if (c && c.id) S.chats[c.id] = c;
      showChat();
      list();
      if (body === undefined) $("reply").focus();
    }, function (e) {
      alertText(whoHasIt(e));
      open(id);
    });
  }
  $("assign-me").addEventListener("click", function () { assign(undefined); });
  $("reassign").addEventListener("change", function (e) {
    var v = e.target.value;
    if (!v) return;
    assign({ user_id: v === "none" ? null : Number(v) });
  });
  $("close-chat").addEventListener("click", function () {
    var id = S.current;
    api("POST", "conversations/" + encodeURIComponent(id) + "/close").then(function (c) {
      if (c && c.id) S.chats[c.id] = c;
      showChat();
      list();
    }, function (e) { alertText(whoHasIt(e)); });
  });

  // ---- composer and typing ----
  function typing(on) {
    var id = S.current;
    var now = Date.now();
    clearTimeout(S.idle);
    if (on) S.idle = setTimeout(function () { typing(false); }, 3000);
    if (!id || (on && now - S.typedAt < 2000) || (!on && !S.typedAt)) return;
    S.typedAt = on ? now : 0;
    api("POST", "conversations/" + encodeURIComponent(id) + "/typing", { typing: on }).catch(function () {});
  }
  $("reply").addEventListener("input", function (e) { typing(!!e.target.value); });
  $("reply").addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("composer").addEventListener("submit", function (e) {
    e.preventDefault();
    var box = $("reply");
    var text = box.value.trim();
    var id = S.current;
    if (!text || !id) return;
    box.value = "";
    typing(false);
    $("send").disabled = true;
    api("POST", "conversations/" + encodeURIComponent(id) + "/messages", { text: text }).then(function (m) {
      if (S.current === id) addMessage(m);
    }, function (err) {
      if (!box.value) box.value = text;
      alertText("Not sent: " + whoHasIt(err));
    }).then(function () {
      showChat();
      box.focus();
    });
  });

  // ---- the side panel ----
  var FIELDS = ["person.name", "person.email", "person.phone", "org.name", "org.address",
    "deal.value", "deal.currency", "deal.expected_close_date", "notes"];
  function field(name) { return document.querySelector('#panel [name="' + name + '"]'); }
  // The panel's fields as the API takes them (empty = null, the deal value a number);
  // null when the deal value is not a number.
  function panelValues() {
    var out = { person: {}, org: {}, deal: {}, notes: "" };
    var ok = true;
    FIELDS.forEach(function (name) {
      var v = field(name).value.trim();
      var parts = name.split(".");
      if (parts.length === 1) return (out[name] = v);
      if (name === "deal.value" && v) {
        var n = Number(v.replace(/\s/g, "").replace(",", "."));
        ok = isFinite(n);
        v = n;
      }
      out[parts[0]][parts[1]] = v === "" ? null : v;
    });
    field("deal.value").setCustomValidity(ok ? "" : "A number, like 1200.50");
    return ok ? out : null;
  }
  function fact(dl, term, value) {
    if (value == null || value === "" || (Array.isArray(value) && !value.length)) return;
    dl.appendChild(el("dt", "", term));
    var dd = dl.appendChild(el("dd"));
    if (Array.isArray(value)) {
      var ul = dd.appendChild(el("ul"));
      value.forEach(function (v) { ul.appendChild(el("li", "", v)); });
    } else {
      dd.textContent = String(value);
    }
  }
  // The pages the visitor loaded, newest first: the title (a link to the page), when, and
  // the address below.
  function pages(dl, list) {
    if (!list || !list.length) return;
    dl.appendChild(el("dt", "", "Pages visited"));
    var ul = dl.appendChild(el("dd")).appendChild(el("ul", "pages"));
    list.forEach(function (p) {
      var li = ul.appendChild(el("li"));
      var href = safe(p.url, ["http:", "https:"]);
      var name = li.appendChild(el(href ? "a" : "span", "page-title", p.title || p.url));
      if (href) {
        name.href = href;
        name.target = "_blank";
        name.rel = "noopener noreferrer";
      }
      li.appendChild(el("span", "muted", " · " + clock(p.at)));
      if (p.title) li.appendChild(el("span", "muted page-url", p.url));
    });
  }
  var RECORD = { lead: "Lead", deal: "Deal" };
  function showRecords() {
    var ul = $("records");
    clear(ul);
    var crm = (S.detail && S.detail.crm) || {};
    (crm.records || []).forEach(function (r) {
      var li = ul.appendChild(el("li"));
      var kind = RECORD[r.kind] || r.kind;
      if (r.status === "done") {
        li.appendChild(el("span", "ok", kind + " created · " + clock(r.at)));
        var href = safe(r.url, ["http:", "https:"]);
        if (href) {
          li.append(" ");
          var a = li.appendChild(el("a", "", "Open in the CRM"));
          a.href = href;
          a.target = "_blank";
          a.rel = "noopener noreferrer";
        }
      } else if (r.status === "failed") {
        li.appendChild(el("span", "bad", kind + " failed · " + clock(r.at) + (r.error ? ": " + r.error : "")));
      } else {
        li.appendChild(el("span", "muted", "Creating the " + kind.toLowerCase() + "… · " + clock(r.at)));
      }
    });
  }
  function showDetails() {
    var d = S.detail || {};
    var p = d.panel || {};
    FIELDS.forEach(function (name) {
      var parts = name.split(".");
      var v = parts.length === 1 ? p[name] : (p[parts[0]] || {})[parts[1]];
      var input = field(name);
      if (document.activeElement !== input) input.value = v == null ? "" : String(v);
    });
    var link = $("person-link");
    var href = safe(d.crm && d.crm.person_url, ["http:", "https:"]);
    link.hidden = !href;
    if (href) link.href = href;
    showRecords();
    var dl = $("facts");
    clear(dl);
    (d.answers || []).forEach(function (a) { fact(dl, a.question || a.card, a.value); });
    fact(dl, "Score", d.score);
    fact(dl, "Tags", (d.tags || []).join(", "));
    var v = d.visitor || {};
    pages(dl, v.pages);
    fact(dl, "Referrer", v.referrer);
    var utm = v.utm || {};
    fact(dl, "UTM", Object.keys(utm).filter(function (k) { return utm[k]; })
      .map(function (k) { return k + ": " + utm[k]; }));
    fact(dl, "Language", v.language);
  }
  function savePanel() {
    var id = S.current;
    if (!id) return Promise.resolve();
    var state = $("panel-state");
    var values = panelValues();
    if (!values) {
      state.textContent = "Not saved: the deal value must be a number.";
      return Promise.resolve();
    }
    return api("PUT", "conversations/" + encodeURIComponent(id) + "/panel", values).then(function (p) {
      if (S.detail && S.current === id) S.detail.panel = p;
      state.textContent = "Saved · " + clock(Date.now());
    }, function (e) { state.textContent = "Not saved: " + e.message; });
  }
  $("panel").addEventListener("input", function () {
    clearTimeout(S.saveTimer);
    $("panel-state").textContent = "Editing…";
    S.saveTimer = setTimeout(savePanel, 800);
  });
  $("panel").addEventListener("submit", function (e) { e.preventDefault(); });
  document.querySelectorAll("[data-create]").forEach(function (b) {
    b.addEventListener("click", function () {
      var id = S.current;
      var kind = b.dataset.create;
      var body = panelValues();
      if (!body) {
        $("panel-state").textContent = "The deal value must be a number.";
        return;
      }
      body.create = kind;
      clearTimeout(S.saveTimer);
      b.disabled = true;
      api("POST", "conversations/" + encodeURIComponent(id) + "/crm", body).then(function (d) {
        if (S.current !== id || !S.detail) return;
        S.detail.crm = S.detail.crm || { records: [] };
        S.detail.crm.records = (S.detail.crm.records || []).concat([d.record]);
        showRecords();
      }, function (e) {
        $("panel-state").textContent = "Not sent: " + e.message;
      }).then(function () { b.disabled = false; });
    });
  });
  $("details-button").addEventListener("click", function () {
    var on = $("chat").classList.toggle("with-details");
    $("details-button").setAttribute("aria-expanded", String(on));
    $("details-button").textContent = on ? "Chat" : "Details";
  });

  // ---- notification settings ----
  $("notify-button").addEventListener("click", function () {
    var menu = $("notify-menu");
    menu.hidden = !menu.hidden;
    $("notify-button").setAttribute("aria-expanded", String(!menu.hidden));
    desktopState();
  });
  document.querySelectorAll("#notify-menu [data-kind]").forEach(function (box) {
    box.addEventListener("change", function () {
      var body = {};
      KINDS.forEach(function (k) {
        body[k] = document.querySelector('#notify-menu [data-kind="' + k + '"]').checked;
      });
      api("PUT", "me/notifications", body).then(function (n) {
        S.me.notifications = n;
      }, function (e) {
        box.checked = !box.checked;
        notice("The choice was not saved", e.message);
      });
    });
  });
  $("desktop-allow").addEventListener("click", function () {
    var asked = window.Notification && Notification.requestPermission();
    if (asked && asked.then) asked.then(desktopState, desktopState);
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && !$("notify-menu").hidden) $("notify-button").click();
  });

  // ---- the offer of automatic assignment ----
  function offer(d) {
    var bar = $("offer");
    clearInterval(S.offerTimer);
    var tick = function () {
      var left = Math.round((d.expires_at - Date.now()) / 1000);
      if (left <= 0) {
        offerGone();
        return;
      }
      var c = S.chats[d.conversation_id];
      $("offer-text").textContent = "A chat" + (c ? " with " + visitorName(c) : "") +
        " is offered to you (" + left + " s).";
    };
    bar.dataset.id = d.conversation_id;
    bar.hidden = false;
    tick();
    S.offerTimer = setInterval(tick, 1000);
    // The bar says it all: no "waiting" notice for this chat, and the others below the
    // bar, never over its buttons.
    dropNotices("new_chat", d.conversation_id);
    $("notices").style.top = (bar.offsetTop + bar.offsetHeight + 6) + "px";
  }
  function offerGone(id) {
    var bar = $("offer");
    if (bar.hidden || (id && bar.dataset.id !== id)) return;
    clearInterval(S.offerTimer);
    bar.hidden = true;
    $("notices").style.top = "";
  }
  function offered(id) {
    var bar = $("offer");
    return !bar.hidden && bar.dataset.id === id;
  }
  $("offer-accept").addEventListener("click", function () {
    var id = $("offer").dataset.id;
    offerGone();
    open(id).then(function () { return assign(undefined); });
  });
  $("offer-decline").addEventListener("click", function () {
    var id = $("offer").dataset.id;
    offerGone();
    api("POST", "conversations/" + encodeURIComponent(id) + "/decline").then(null, function (e) {
      alertText(e.message);
    });
  });

  // ---- the event stream ----
  // EventSource gives up for good after an error answer (a 500 or 503 while the server
  // restarts) and retries a lost network at its own pace. The page reconnects itself
  // instead: after 1, 2, 4 … 30 s, back to 1 s once a connection stayed open for
  // GOOD_MS, showing "Reconnecting…" meanwhile. The heartbeat pauses while the stream is
  // down, so a rep whose inbox is disconnected goes offline after the company's timeout
  // as before; an opening stream counts as connected again.
  var RETRY_MAX_S = 30;
  var GOOD_MS = 10000;
  function connection(state) {
    S.live = state === "open";
    var c = $("connection");
    c.hidden = S.live;
    c.textContent = state === "signed-out" ? "Signed out" : "Reconnecting…";
    c.title = state === "signed-out"
      ? "Open the inbox again from the CRM."
      : "The inbox lost its connection. It reconnects by itself and then shows what it missed.";
  }
  function lost(es) {
    if (S.es !== es) return;
    // CLOSED: the server answered with an error; CONNECTING: the link broke.
    var answered = es.readyState === EventSource.CLOSED;
    es.close();
    S.es = null;
    if (S.openedAt && Date.now() - S.openedAt >= GOOD_MS) S.retries = 0;
    S.openedAt = 0;
    connection("lost");
    var wait = Math.min(RETRY_MAX_S, Math.pow(2, S.retries++));
    clearTimeout(S.retryTimer);
    S.retryTimer = setTimeout(listen, wait * 1000);
    // An error answer may mean the session ended: then reconnecting cannot help.
    if (answered) api("GET", "me").catch(function (e) {
      if (e.status !== 401) return;
      S.signedOut = true;
      clearTimeout(S.retryTimer);
      if (S.es) S.es.close();
      S.es = null;
      connection("signed-out");
    });
  }
  function resync() {
    load();
    reps();
    if (S.current) open(S.current);
  }
  function listen() {
    if (S.signedOut) return;
    if (S.es) S.es.close();
    var es = (S.es = new EventSource(API + "events"));
    function on(type, fn) {
      es.addEventListener(type, function (e) {
        var d;
        try { d = JSON.parse(e.data); } catch (x) { return; }
        fn(d);
      });
    }
    // After a reconnection the stream sends only what happens from now on: the page
    // catches up from the API.
    es.onopen = function () {
      S.openedAt = Date.now();
      connection("open");
      if (S.opened) resync();
      S.opened = true;
    };
    es.onerror = function () { lost(es); };
    on("resync", resync);
    on("conversation", function (c) {
      S.chats[c.id] = c;
      // An offered chat someone took (or that was closed) is no longer offered.
      if (c.status !== "unassigned") offerGone(c.id);
      // A waiting chat someone took is no longer news.
      if (c.status !== "unassigned") dropNotices("new_chat", c.id);
      list();
      if (c.id === S.current) showChat();
    });
    on("removed", function (d) {
      delete S.chats[d.id];
      offerGone(d.id);
      list();
      if (d.id === S.current) alertText("This chat was given to another rep.");
    });
    on("counts", function (d) {
      S.counts = d;
      showCounts();
    });
    on("message", function (d) {
      var c = S.chats[d.conversation_id];
      if (c && d.message) {
        c.preview = String(d.message.text || "").slice(0, 120);
        c.last_message_at = d.message.created_at;
      }
      if (d.conversation_id === S.current) addMessage(d.message);
      else if (d.message && d.message.author === "visitor") S.unread[d.conversation_id] = true;
      list();
    });
    on("typing", function (d) {
      if (d.conversation_id !== S.current) return;
      var t = $("typing");
      t.hidden = !d.typing;
      clearTimeout(S.typingTimer);
      if (d.typing) S.typingTimer = setTimeout(function () { t.hidden = true; }, 8000);
    });
    on("presence", function (d) {
      S.reps.forEach(function (r) { if (r.user_id === d.user_id) r.online = d.online; });
      if (S.me && d.user_id === S.me.user_id) {
        S.me.online = d.online;
        showPresence();
      }
      if (S.current) showChat();
    });
    on("notify", notify);
    on("offer", offer);
    on("crm", function (d) {
      if (d.conversation_id !== S.current || !S.detail) return;
      // The page is told about records one at a time: reload the panel's list.
      api("GET", "conversations/" + encodeURIComponent(d.conversation_id)).then(function (x) {
        if (S.current !== d.conversation_id) return;
        S.detail.crm = x.crm;
        showRecords();
      });
    });
  }

  // ---- start ----
  function start() {
    api("GET", "me").then(function (me) {
      S.me = me;
      if (me.name) $("me-name").textContent = me.name;
      var n = me.notifications || {};
      KINDS.forEach(function (k) {
        document.querySelector('#notify-menu [data-kind="' + k + '"]').checked = n[k] !== false;
      });
      showPresence();
      listen();
      load();
      reps();
      setInterval(function () {
        if (S.live) api("POST", "heartbeat").catch(function () {});
      }, 10000);
      // Waiting times in the list and the header age: refresh them now and then.
      setInterval(function () { list(); if (S.current) showChat(); }, 30000);
    }, function (e) {
      var empty = $("list-empty");
      clear(empty);
      empty.appendChild(el("strong", "", e.status === 401 ? "You are signed out." : "Live chat is not available."));
      empty.appendChild(document.createTextNode(e.status === 401
        ? "Open the inbox again from the CRM." : e.message));
    });
  }
  function reps() {
    return api("GET", "reps").then(function (d) {
      S.reps = d.reps || [];
      if (S.current) showChat();
    }, function () {});
  }
  setInterval(reps, 60000);
  start();
})();
