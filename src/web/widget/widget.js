// Concierge chat widget: launcher, proactive bubble, chat panel and the JS SDK
// (window.Concierge). Plain ES2017, no dependencies. The app serves it at /widget.js with
// widget.css inlined in place of the style marker below, lines that start with // removed and
// indentation trimmed, so comments here cost nothing.
//
// Safety: message text is rendered from a small rich-text subset with createElement and
// text nodes only; nothing a visitor, a rep or a playbook writes ever reaches innerHTML.
// Links must be http, https, mailto or tel, images http or https. Every request goes to
// the app the script came from (API below).
(function () {
  'use strict';
  // Marks for measuring how soon the launcher shows (P4); pages can read them too.
  var mark = function (name) {
    if (window.performance && performance.mark) performance.mark('concierge-' + name);
  };
  mark('start');
  var me = document.currentScript;
  if (!me || (window.Concierge && window.Concierge.ready)) return;
  var KEY = me.getAttribute('data-key') || '';
  var API = new URL('api/widget/', me.src).href;
  // The settings page's preview: the same widget, talking to the draft's preview
  // through the page's adapter instead of the visitor API, inside the page's box.
  var PV = me.hasAttribute('data-preview') && window.ConciergePreview;
  var STORE = 'concierge.' + KEY;
  var LINK = ['http:', 'https:', 'mailto:', 'tel:'];
  var IMG = ['http:', 'https:'];
  // English texts, used until (and wherever) the server sends none.
  var EN = {
    open: 'Open chat',
    close: 'End chat',
    minimize: 'Hide chat',
    send: 'Send',
    placeholder: 'Write a message…',
    message: 'Message',
    unread: 'new messages',
    typing: '{name} is typing…',
    queue: 'You are number {n} in line.',
    wait: 'Expected wait: about {m} min.',
    error: 'Your message could not be sent. Please try again.',
    slow_down: 'Too many messages at once. Please wait a moment.'
  };
  // How the composer looks for each input kind a question asks for.
  var KINDS = {
    text: { type: 'text' },
    email: { type: 'email', inputmode: 'email', autocomplete: 'email' },
    phone: { type: 'tel', inputmode: 'tel', autocomplete: 'tel' },
    number: { type: 'text', inputmode: 'decimal' },
    date: { type: 'date' },
    url: { type: 'url', inputmode: 'url', autocomplete: 'url' },
    long_text: {}
  };

  var S = {
    token: load(),
    texts: EN,
    bot: 'Concierge',
    pic: '',
    agent: null,
    typed: 0,
    conv: null,
    open: false,
    unread: 0,
    seen: {},
    rows: [],
    round: 0,
    clicks: [],
    es: null,
    esAt: 0,
    esTries: 0,
    choices: null,
    kind: '',
    max: 4000
  };
  var readyResolve;
  var ready = new Promise(function (r) { readyResolve = r; });

  // ---- small helpers ----
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function attrs(e, a) {
    for (var k in a) e.setAttribute(k, a[k]);
    return e;
  }
  function t(key, name) {
    return String(S.texts[key] || EN[key] || '').replace('{name}', name || who());
  }
  function load() {
    try { return localStorage.getItem(STORE); } catch (e) { return null; }
  }
  function keep(token) {
    S.token = token;
    // With storage off, the visitor is new on every page.
    try { localStorage.setItem(STORE, token); } catch (e) {}
  }
  // The URL `u` resolved against the page, if its scheme is one of `ok`; else ''.
  function safe(u, ok) {
    if (!u) return '';
    try {
      var p = new URL(String(u), location.href);
      return ok.indexOf(p.protocol) >= 0 ? p.href : '';
    } catch (e) {
      return '';
    }
  }
  function page() {
    return {
      url: location.href,
      referrer: document.referrer,
      language: navigator.language || '',
      title: document.title
    };
  }

  // ---- rich text: **bold**, *italic*, [label](url), ![alt](url), "- " lists, newlines;
  // a backslash makes the next \ * [ ] ( ) ! - plain text (values inserted by the server) ----
  var INLINE = /\\([\\*\[\]()!-])|!\[((?:\\.|[^\]\\])*)\]\(((?:\\.|[^)\s\\])+)\)|\[((?:\\.|[^\]\\])+)\]\(((?:\\.|[^)\s\\])+)\)|\*\*((?:\\.|[^\\])+?)\*\*|\*((?![*\s])(?:\\.|[^*\\])+)\*/;
  function unesc(s) {
    return s.replace(/\\([\\*\[\]()!-])/g, '$1');
  }
  function inline(parent, s) {
    var m;
    while ((m = INLINE.exec(s))) {
      if (m.index) parent.append(s.slice(0, m.index));
      if (m[1]) {
        parent.append(m[1]);
      } else if (m[3]) {
        var src = safe(unesc(m[3]), IMG);
        if (src) parent.append(attrs(el('img'), { src: src, alt: unesc(m[2]), loading: 'lazy' }));
        else parent.append(unesc(m[2]));
      } else if (m[5]) {
        var href = safe(unesc(m[5]), LINK);
        var a = parent;
        if (href) {
          a = attrs(el('a'), { href: href, target: '_blank', rel: 'noopener noreferrer' });
          parent.append(a);
        }
        inline(a, m[4]);
      } else {
        inline(parent.appendChild(el(m[6] ? 'strong' : 'em')), m[6] || m[7]);
      }
      s = s.slice(m.index + m[0].length);
    }
    if (s) parent.append(s);
  }
  function rich(parent, text) {
    var list = null;
    var prev = '';
    String(text).split('\n').forEach(function (line) {
      var item = /^\s*- (.*)$/.exec(line);
      if (item) {
        if (!list) list = parent.appendChild(el('ul'));
        inline(list.appendChild(el('li')), item[1]);
        prev = 'li';
        return;
      }
      list = null;
      if (prev === 'text') parent.append(el('br'));
      inline(parent, line);
      prev = 'text';
    });
    return parent;
  }

  // ---- the DOM ----
  var root = el('div', 'cnc');
  root.id = 'concierge';
  var bubble = attrs(el('div', 'cnc-bubble'), { 'aria-live': 'polite' });
  var bubbleText = bubble.appendChild(el('div'));
  var bubbleX = bubble.appendChild(attrs(el('button', 'cnc-x', '×'), { type: 'button' }));
  var panel = attrs(el('section', 'cnc-panel'), { id: 'cnc-panel', role: 'dialog' });
  var head = panel.appendChild(el('div', 'cnc-head'));
  var avatar = head.appendChild(el('span', 'cnc-avatar'));
  var nameEl = head.appendChild(el('h2', 'cnc-name'));
  var minBtn = head.appendChild(attrs(el('button', 'cnc-min', '–'), { type: 'button' }));
  var endBtn = head.appendChild(attrs(el('button', 'cnc-end', '×'), { type: 'button' }));
  var queue = panel.appendChild(attrs(el('div', 'cnc-queue'), { role: 'status' }));
  var log = panel.appendChild(attrs(el('div', 'cnc-log'), { role: 'log', 'aria-live': 'polite', tabindex: '0' }));
  var typing = panel.appendChild(el('div', 'cnc-typing'));
  var error = panel.appendChild(attrs(el('div', 'cnc-error'), { role: 'alert' }));
  var count = panel.appendChild(attrs(el('div', 'cnc-count'), { 'aria-live': 'polite' }));
  // The server checks answers (and replies with the question's retry text): the browser's
  // own validation would silently block an invalid e-mail or URL.
  var form = panel.appendChild(attrs(el('form', 'cnc-form'), { novalidate: '' }));
  var label = form.appendChild(attrs(el('label', 'cnc-sr'), { for: 'cnc-input' }));
  var input = null;
  var sendBtn = form.appendChild(attrs(el('button', 'cnc-send'), { type: 'submit' }));
  var launcher = attrs(el('button', 'cnc-launcher'), {
    type: 'button',
    'aria-controls': 'cnc-panel',
    'aria-expanded': 'false'
  });
  launcher.appendChild(attrs(el('span', 'cnc-icon'), { 'aria-hidden': 'true' }));
  var badge = launcher.appendChild(attrs(el('span', 'cnc-badge'), { 'aria-hidden': 'true' }));
  bubble.hidden = panel.hidden = queue.hidden = typing.hidden = error.hidden = count.hidden = badge.hidden = true;
  root.append(bubble, panel, launcher);

  // Who speaks for the company: the rep who joined, else the bot.
  function who() {
    return S.agent ? S.agent.name : S.bot;
  }
  function labels() {
    nameEl.textContent = who();
    panel.setAttribute('aria-label', who());
    minBtn.setAttribute('aria-label', t('minimize'));
    endBtn.setAttribute('aria-label', t('close'));
    bubbleX.setAttribute('aria-label', t('minimize'));
    label.textContent = t('message');
    sendBtn.textContent = t('send');
    badge.textContent = S.unread;
    badge.hidden = !S.unread || S.open;
    launcher.setAttribute('aria-label', t(S.open ? 'minimize' : 'open') +
      (S.unread && !S.open ? ' (' + S.unread + ' ' + t('unread') + ')' : ''));
  }

  // The composer follows the input kind the last question asked for.
  function composer(kind, placeholder) {
    kind = KINDS[kind] ? kind : 'text';
    var spec = KINDS[kind];
    var had = input && document.activeElement === input;
    if (!input || (kind === 'long_text') !== (input.tagName === 'TEXTAREA')) {
      var next = el(kind === 'long_text' ? 'textarea' : 'input', 'cnc-input');
      if (kind === 'long_text') next.rows = 3;
      next.id = 'cnc-input';
      if (input) input.replaceWith(next);
      else form.insertBefore(next, sendBtn);
      input = next;
      input.addEventListener('input', function () { typed(!!input.value); });
      input.addEventListener('keydown', function (e) {
        if (e.key === 'Enter' && input.tagName === 'TEXTAREA' && (e.ctrlKey || e.metaKey)) {
          e.preventDefault();
          submit();
        }
      });
    }
    ['type', 'inputmode', 'autocomplete'].forEach(function (a) {
      if (spec[a]) input.setAttribute(a, spec[a]);
      else input.removeAttribute(a);
    });
    input.placeholder = placeholder || t('placeholder_' + kind) || t('placeholder');
    if (S.kind !== kind) input.value = '';
    S.kind = kind;
    counter();
    if (had) input.focus();
  }

  function settings(s) {
    s = s || {};
    S.bot = s.bot_name || S.bot;
    S.max = s.max_text_chars || S.max;
    var c = /^#[0-9a-f]{6}$/i.test(s.color) ? s.color : '#2f6fed';
    var n = parseInt(c.slice(1), 16);
    var light = 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255) > 170;
    root.style.setProperty('--cnc-c', c);
    root.style.setProperty('--cnc-f', light ? '#1d2330' : '#fff');
    root.classList.toggle('cnc-left', s.position === 'left');
    S.pic = s.avatar_url;
    face();
  }

  // Up to two initials: "Ben Rep" → "BR".
  function initials(n) {
    return String(n || '').split(/\s+/).filter(Boolean).slice(0, 2)
      .map(function (w) { return w.charAt(0); }).join('').toUpperCase();
  }
  // The header's picture and name: the rep's (initials when the CRM has no picture) while
  // a rep has the chat, else the company's bot.
  function face() {
    var pic = safe(S.agent ? S.agent.avatar_url : S.pic, IMG);
    var next = pic ? attrs(el('img', 'cnc-avatar'), { src: pic, alt: '' })
      : attrs(el('span', 'cnc-avatar', initials(who())), { 'aria-hidden': 'true' });
    avatar.replaceWith(next);
    avatar = next;
    labels();
  }
  function agent(a) {
    S.agent = a && a.name ? a : null;
    if (S.agent) queue.hidden = true;
    face();
  }

  // ---- messages ----
  function render(m) {
    var who = m.author === 'visitor' ? 'visitor' : m.author === 'system' ? 'system' : 'bot';
    var row = el('div', 'cnc-msg cnc-' + who);
    if (m.author === 'rep' && m.author_name) row.append(el('span', 'cnc-who', m.author_name));
    // What a visitor types is shown exactly as typed; everything else as rich text.
    if (who === 'visitor') row.append(String(m.text || ''));
    else rich(row, m.text || '');
    return row;
  }

  // Shows new messages in order (conversation, then seq); returns those not seen before.
  function add(list, live) {
    var fresh = [];
    (list || []).forEach(function (m) {
      if (!m || S.seen[m.id]) return;
      S.seen[m.id] = 1;
      fresh.push(m);
      var row = { m: m, k: S.round * 1e9 + m.seq, el: render(m) };
      var i = S.rows.length;
      while (i > 0 && S.rows[i - 1].k > row.k) i--;
      log.insertBefore(row.el, i < S.rows.length ? S.rows[i].el : null);
      S.rows.splice(i, 0, row);
      if (live && !S.open && m.author !== 'visitor') S.unread++;
      if (live && m.redirect) go(m.redirect);
    });
    if (fresh.length) {
      pending();
      labels();
      log.scrollTop = log.scrollHeight;
    }
    return fresh;
  }

  // Buttons and the input kind of the last message, if it asks something.
  function pending() {
    var had = S.choices && S.choices.contains(document.activeElement);
    if (S.choices) S.choices.remove();
    S.choices = null;
    var last = S.rows.length ? S.rows[S.rows.length - 1].m : {};
    var asks = last.author !== 'visitor' && live();
    composer(asks && last.input, asks && last.placeholder);
    if (asks && last.buttons && last.buttons.length) {
      S.choices = log.appendChild(el('div', 'cnc-choices'));
      last.buttons.forEach(function (text, index) {
        var b = S.choices.appendChild(attrs(el('button', '', text), { type: 'button' }));
        b.onclick = function () {
          var all = S.choices.querySelectorAll('button');
          all.forEach(function (x) { x.disabled = true; });
          send({ choice: { message_id: last.id, index: index } }, function () {
            all.forEach(function (x) { x.disabled = false; });
          });
        };
      });
      if (had) S.choices.firstChild.focus();
    } else if (had) {
      input.focus();
    }
  }

  function go(url) {
    var u = safe(url, IMG);
    if (u) setTimeout(function () { location.assign(u); }, 800);
  }

  // ---- the server ----
  function call(method, path, body, retried) {
    if (PV) return PV.call(path, body);
    var headers = { 'Content-Type': 'application/json' };
    if (S.token) headers.Authorization = 'Bearer ' + S.token;
    return fetch(API + path, {
      method: method,
      headers: headers,
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      if (r.status === 401 && path !== 'session' && !retried) {
        // An expired or unknown token: start a fresh session, then try once more.
        S.token = null;
        return session().then(function () { return call(method, path, body, true); });
      }
      return r.json().catch(function () { return {}; }).then(function (d) {
        if (r.ok) return d;
        var e = new Error((d.error && d.error.message) || r.statusText);
        e.status = r.status;
        e.after = +r.headers.get('Retry-After') || 0;
        throw e;
      });
    });
  }

  // `fn()` again when it failed on the way (no status) or on a busy server (5xx, 429):
  // after 1, 2, 4, 8 and 16 s, or the server's Retry-After. A refusal (4xx) is final.
  function withRetries(fn, tries) {
    tries = tries || 0;
    return fn().catch(function (e) {
      if ((e.status && e.status < 500 && e.status !== 429) || tries >= 5) throw e;
      return new Promise(function (r) {
        setTimeout(r, (e.after || Math.pow(2, tries)) * 1000);
      }).then(function () { return withRetries(fn, tries + 1); });
    });
  }

  // Follows the visitor's open conversation (null: none). Each conversation numbers its
  // messages from 1, so a new one starts a new round of the log's order.
  function conversation(c) {
    if (c !== undefined) {
      if (c && c.id !== S.convId) {
        if (S.convId) S.round++;
        S.convId = c.id;
        agent(c.agent);
      }
      S.conv = c;
    }
    // A closing conversation keeps its stream (its last messages may follow the status)
    // until the next one starts; a closed one is not followed again.
    if (!PV && (live() || (S.es && S.esFor === S.conv.id))) listen();
    else stop();
  }
  // Is the conversation still talking? A missed chat runs its offline branch.
  function live() {
    return !!S.conv && (S.conv.status !== 'closed' || S.conv.outcome === 'missed');
  }

  function session() {
    return call('POST', 'session', { key: KEY, token: S.token || null, page: page() }).then(function (d) {
      keep(d.token);
      S.texts = Object.assign({}, EN, d.texts || {});
      settings(d.settings);
      if (d.conversation) {
        conversation(d.conversation);
        add(d.conversation.messages, false);
      }
      return d;
    }, function (e) {
      // A stored token the server no longer accepts: start over as a new visitor.
      if (e.status !== 401 || !S.token) throw e;
      S.token = null;
      return session();
    });
  }

  // Real-time events of the open conversation; EventSource resumes by Last-Event-ID after
  // a lost link. After an error answer it gives up: a new stream follows in 1, 2, 4 … 30 s
  // (1 s again once one stayed open 10 s), from the last message shown.
  function listen() {
    if (S.es && S.esFor === S.conv.id) return;
    stop();
    S.esFor = S.conv.id;
    var after = 0;
    S.rows.forEach(function (r) {
      if (r.k > S.round * 1e9) after = Math.max(after, r.m.seq);
    });
    var es = (S.es = new EventSource(API + 'events?token=' + encodeURIComponent(S.token) + '&after=' + after));
    function on(type, fn) {
      es.addEventListener(type, function (e) {
        // A malformed event is ignored.
        try { fn(JSON.parse(e.data)); } catch (x) {}
      });
    }
    on('message', function (m) { add([m], true); });
    on('typing', function (d) {
      typing.textContent = t('typing', d.name);
      typing.hidden = !d.typing;
    });
    on('agent', agent);
    // Place in the queue and the expected wait, while nobody has the chat.
    on('queue', function (d) {
      var m = d.expected_wait_seconds;
      queue.textContent = t('queue').replace('{n}', d.position) +
        (m == null ? '' : ' ' + t('wait').replace('{m}', Math.max(1, Math.round(m / 60))));
      queue.hidden = !d.position || !!S.agent;
    });
    on('status', function (d) {
      if (d.status !== 'unassigned') queue.hidden = true;
      if (S.conv) {
        S.conv.status = d.status;
        S.conv.outcome = d.outcome;
      }
      conversation();
      pending();
    });
    on('redirect', function (d) { go(d.url); });
    es.onopen = function () { S.esAt = Date.now(); };
    es.onerror = function () {
      if (es.readyState === 2 && S.es === es) {
        S.es = null;
        if (S.esAt && Date.now() - S.esAt >= 1e4) S.esTries = 0;
        S.esAt = 0;
        setTimeout(function () { conversation(); }, Math.min(30, Math.pow(2, S.esTries++)) * 1e3);
      }
    };
  }
  function stop() {
    if (S.es) S.es.close();
    S.es = null;
    typing.hidden = queue.hidden = true;
  }

  // Tells a rep who has (or may take) the chat that the visitor is typing: at most every
  // two seconds while keys are pressed, and once more when they stop.
  function typed(on) {
    var live = S.conv && (S.conv.status === 'assigned' || S.conv.status === 'unassigned');
    var now = Date.now();
    clearTimeout(S.idle);
    if (on) S.idle = setTimeout(function () { typed(false); }, 3000);
    if (!live || (on && now - S.typed < 2000) || (!on && !S.typed)) return;
    S.typed = on ? now : 0;
    call('POST', 'typing', { typing: on }).catch(function () {});
  }

  function send(body, failed) {
    sendBtn.disabled = true;
    return ready.then(function () { return call('POST', 'messages', body); }).then(function (d) {
      error.hidden = true;
      conversation(d.conversation);
      add(d.messages, true);
    }).catch(function (e) {
      // Over the size limit the server's answer says what the limit is.
      error.textContent = e.status === 413 && e.message ? e.message : t(e.status === 429 ? 'slow_down' : 'error');
      error.hidden = false;
      if (failed) failed();
    }).then(function () {
      sendBtn.disabled = false;
      counter();
    });
  }

  // Near the size limit the composer counts characters; over it, nothing is sent.
  function counter() {
    var n = input ? Array.from(input.value).length : 0;
    count.hidden = n < S.max * 0.9;
    count.textContent = n + ' / ' + S.max;
    count.classList.toggle('cnc-over', n > S.max);
    return n <= S.max;
  }

  function submit() {
    var text = input.value.trim();
    if (!text || !counter()) return;
    input.value = '';
    counter();
    typed(false);
    send({ text: text }, function () { input.value = text; counter(); });
  }

  function trigger(slug, reason, show) {
    return ready.then(function () {
      return withRetries(function () {
        return call('POST', 'trigger', { slug: slug, page: page(), reason: reason });
      });
    }).then(function (d) {
      conversation(d.conversation);
      var fresh = add(d.messages, true).filter(function (m) { return m.author !== 'visitor'; });
      if (show) openPanel();
      else if (fresh.length && !S.open) {
        bubbleText.textContent = '';
        rich(bubbleText, fresh[0].text || '');
        bubble.hidden = false;
      }
    // Without the playbook (unknown, or the server kept failing), the page goes on as it is.
    }).catch(function () {});
  }

  // The first page-load or time-on-page trigger (the server orders them by priority) and
  // every click selector.
  function arm(list) {
    var timed = list.filter(function (x) { return x.on === 'page_load' || x.on === 'time_on_page'; })[0];
    if (timed) {
      var wait = timed.on === 'time_on_page' ? (timed.delay_seconds || 0) * 1000 : 0;
      setTimeout(function () { trigger(timed.slug, timed.on, false); }, wait);
    }
    S.clicks = list.filter(function (x) { return x.on === 'click' && x.selector; });
  }
  document.addEventListener('click', function (e) {
    var target = e.target;
    if (!target.closest || root.contains(target)) return;
    for (var i = 0; i < S.clicks.length; i++) {
      var hit = null;
      // An invalid selector matches nothing.
      try { hit = target.closest(S.clicks[i].selector); } catch (x) {}
      if (hit) return trigger(S.clicks[i].slug, 'click', true);
    }
  }, true);

  // ---- opening and closing ----
  function openPanel() {
    S.open = true;
    S.unread = 0;
    bubble.hidden = true;
    panel.hidden = false;
    root.classList.add('cnc-open');
    launcher.setAttribute('aria-expanded', 'true');
    labels();
    log.scrollTop = log.scrollHeight;
    var first = S.choices && S.choices.querySelector('button:not(:disabled)');
    (first || input).focus();
  }
  function hidePanel() {
    var inside = root.contains(document.activeElement);
    S.open = false;
    panel.hidden = true;
    root.classList.remove('cnc-open');
    launcher.setAttribute('aria-expanded', 'false');
    labels();
    if (inside) launcher.focus();
  }

  launcher.onclick = function () { (S.open ? hidePanel : openPanel)(); };
  bubble.onclick = function (e) {
    if (bubbleX.contains(e.target)) bubble.hidden = true;
    else openPanel();
  };
  minBtn.onclick = hidePanel;
  // The close button leaves the running flow (the visitor's way out), then hides the panel.
  endBtn.onclick = function () {
    hidePanel();
    if (S.conv && S.conv.status !== 'closed') {
      call('POST', 'close').then(function (d) {
        conversation(d.conversation);
        add(d.messages, false);
      }).catch(function () {});
    }
  };
  root.addEventListener('keydown', function (e) {
    if (e.key === 'Escape' && S.open) hidePanel();
  });
  form.addEventListener('input', counter);
  form.addEventListener('submit', function (e) {
    e.preventDefault();
    submit();
  });

  // ---- start ----
  var style = el('style');
  style.textContent = '__CONCIERGE_CSS__';
  composer('text');
  labels();
  function mount() {
    document.head.appendChild(style);
    (PV ? PV.mount : document.body).appendChild(root);
    mark('launcher');
  }
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount);

  // A failed start is tried again (the launcher shows meanwhile; what is sent waits).
  withRetries(session).then(function (d) {
    readyResolve();
    arm(d.triggers || []);
  }).catch(function () {
    // No session (unknown key, or the server kept failing): nothing to offer on this page.
    root.hidden = true;
  });

  // The SDK. Calls made before the session is ready wait for it.
  window.Concierge = {
    ready: ready,
    open: function (slug) {
      if (slug) trigger(String(slug), 'sdk', true);
      else ready.then(openPanel);
    },
    close: function () {
      if (S.open) hidePanel();
    },
    identify: function (who) {
      who = who || {};
      return ready.then(function () {
        // A 401 here is a wrong hash, not an expired token: no fresh session, no retry.
        return call('POST', 'identify', { email: who.email, name: who.name, hash: who.hash }, true);
      });
    }
  };
})();
