// The live staff workspace, on every page of a signed-in member:
// - server-sent events from /staff/events (polling /staff/live only when EventSource is
//   missing or keeps failing) keep the queue, the conversation and the header up to date;
// - unclaimed urgent escalations show a banner, sound (again every 30 s until someone claims
//   them, unless muted) and, once the member allows it, a browser notification;
// - a message the person writes appears at once in their open conversation; it counts as read
//   when the member next touches the page (the queue row stays unread until then);
// - keys: j/k move in the queue and Enter opens, c claims, r resolves, Ctrl/⌘+Enter sends.
(function () {
  "use strict";
  var body = document.body;
  if (!body || !body.getAttribute("data-staff")) return;
  var csrf = body.getAttribute("data-csrf") || "";
  var page = body.getAttribute("data-page") || "";
  var escId = body.getAttribute("data-escalation") || "";
  var after = parseInt(body.getAttribute("data-after") || "0", 10);
  var banner = document.getElementById("alert-banner");
  var rowsBox = document.getElementById("rows");
  var chat = document.getElementById("chat");
  var REPEAT_MS = 30000;
  var MUTE_KEY = "sb-alerts-muted-until";
  var NOTIFIED_KEY = "sb-alerts-notified";

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }

  // --- urgent alerts: banner, sound, browser notifications ---
  var alertIds = [];
  function muted() {
    return Date.now() < parseInt(localStorage.getItem(MUTE_KEY) || "0", 10);
  }
  function beep() {
    if (!banner || muted()) return;
    banner.setAttribute("data-beeps", String(parseInt(banner.getAttribute("data-beeps") || "0", 10) + 1));
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      var ctx = beep.ctx || (beep.ctx = new Ctx());
      [0, 0.45].forEach(function (at) {
        var o = ctx.createOscillator(), g = ctx.createGain();
        o.type = "sine"; o.frequency.value = 880; g.gain.value = 0.2;
        o.connect(g); g.connect(ctx.destination);
        o.start(ctx.currentTime + at); o.stop(ctx.currentTime + at + 0.3);
      });
    } catch (e) { /* audio may be blocked until the member interacts: the banner stays */ }
  }
  function notified() {
    try { return JSON.parse(localStorage.getItem(NOTIFIED_KEY) || "[]"); } catch (e) { return []; }
  }
  function browserNotify(items) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    var seen = notified();
    items.forEach(function (a) {
      if (seen.indexOf(a.id) >= 0) return;
      seen.push(a.id);
      var n = new Notification((banner.getAttribute("data-label") || "") + " #" + a.id, {
        body: a.kinds + " · " + a.department, tag: "sb-alert-" + a.id, requireInteraction: true,
      });
      n.onclick = function () { window.focus(); location.href = a.url; };
    });
    localStorage.setItem(NOTIFIED_KEY, JSON.stringify(seen.slice(-200)));
  }
  function toolButtons() {
    if (!banner) return;
    var enable = document.getElementById("alert-enable");
    var mute = document.getElementById("alert-mute");
    if (enable) enable.hidden = !("Notification" in window) || Notification.permission !== "default";
    if (mute) mute.textContent = banner.getAttribute(muted() ? "data-unmute" : "data-mute");
  }
  function showAlerts(items) {
    if (!banner) return;
    var fresh = items.some(function (a) { return alertIds.indexOf(a.id) < 0; });
    alertIds = items.map(function (a) { return a.id; });
    document.getElementById("alert-items").innerHTML = items.map(function (a) {
      return '<a href="' + esc(a.url) + '" data-alert="' + a.id + '">#' + a.id + " " +
        esc(a.kinds) + " · " + esc(a.department) + " · " + esc(a.opened) + "</a> ";
    }).join("");
    banner.hidden = items.length === 0;
    if (items.length && fresh) beep();
    browserNotify(items);
    toolButtons();
  }
  if (banner) {
    alertIds = Array.prototype.map.call(banner.querySelectorAll("[data-alert]"), function (a) {
      return parseInt(a.getAttribute("data-alert"), 10);
    });
    if (alertIds.length) beep();
    setInterval(function () { if (alertIds.length) beep(); }, REPEAT_MS);
    var enable = document.getElementById("alert-enable");
    if (enable) enable.addEventListener("click", function () {
      Notification.requestPermission().then(function () { toolButtons(); showAlerts(currentAlerts); });
    });
    document.getElementById("alert-mute").addEventListener("click", function () {
      localStorage.setItem(MUTE_KEY, muted() ? "0" : String(Date.now() + 10 * 60000));
      toolButtons();
    });
    toolButtons();
  }
  var currentAlerts = [];

  // --- header badge ---
  function showUnread(n) {
    var badge = document.getElementById("unread-badge");
    if (!badge) return;
    badge.textContent = String(n);
    badge.hidden = !n;
  }

  // --- the queue: live rows, j/k ---
  var selected = null;
  function rows() { return rowsBox ? rowsBox.querySelectorAll("tr[data-escalation]") : []; }
  function select(id) {
    Array.prototype.forEach.call(rows(), function (r) {
      var on = r.getAttribute("data-escalation") === id;
      r.classList.toggle("selected", on);
      if (on && r.scrollIntoView) r.scrollIntoView({block: "nearest"});
    });
    selected = id;
  }
  function refreshRows() {
    if (!rowsBox) return;
    fetch(rowsBox.getAttribute("data-src"), {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null && html !== rowsBox.innerHTML) {
          rowsBox.innerHTML = html;
          if (selected) select(selected);
        }
      })
      .catch(function () {});
  }

  // --- the open conversation: new messages, read marks ---
  var pendingSeen = 0;
  function addMessage(m) {
    if (!chat || chat.querySelector('[data-message="' + m.id + '"]')) return;
    var empty = chat.querySelector("li.empty");
    if (empty) empty.remove();
    chat.insertAdjacentHTML("beforeend", m.html);
    chat.scrollTop = chat.scrollHeight;
    after = Math.max(after, m.id);
    if (m.from_person && escId) {
      pendingSeen = Math.max(pendingSeen, m.id);
      var note = document.getElementById("new-messages");
      if (note) note.hidden = false;
    }
  }
  function markSeen() {
    if (!pendingSeen || !escId) return;
    var upto = pendingSeen;
    pendingSeen = 0;
    var form = new FormData();
    form.append("csrf", csrf);
    form.append("upto", String(upto));
    fetch("/staff/escalations/" + escId + "/seen", {method: "POST", body: form, credentials: "same-origin"})
      .catch(function () { pendingSeen = Math.max(pendingSeen, upto); });
    var note = document.getElementById("new-messages");
    if (note) note.hidden = true;
  }
  ["keydown", "mousedown", "touchstart"].forEach(function (ev) {
    document.addEventListener(ev, markSeen, true);
  });
  function escalationChanged() {
    var changed = document.getElementById("changed");
    if (changed) changed.hidden = false;
  }

  // --- transport: server-sent events, polling as the fallback ---
  var last = {};
  function apply(name, data) {
    if (name === "alerts") { currentAlerts = data; showAlerts(data); }
    else if (name === "unread") showUnread(data);
    else if (name === "queue") refreshRows();
    else if (name === "message") addMessage(data);
    else if (name === "escalation") escalationChanged();
  }
  function url(base) {
    return base + "?" + (escId ? "esc=" + escId + "&" : "") + "after=" + after;
  }
  var failures = 0;
  function poll() {
    fetch(url("/staff/live"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (snap) {
        if (!snap) return;
        ["alerts", "unread"].forEach(function (k) {
          if (JSON.stringify(last[k]) !== JSON.stringify(snap[k])) apply(k, snap[k]);
        });
        ["queue", "escalation"].forEach(function (k) {
          if (k in last && last[k] !== snap[k]) apply(k, snap[k]);
        });
        snap.messages.forEach(function (m) { apply("message", m); });
        last = snap;
      })
      .catch(function () {})
      .finally(function () { setTimeout(poll, 3000); });
  }
  function connect() {
    if (!window.EventSource || failures >= 5) { body.setAttribute("data-live", "polling"); poll(); return; }
    var es = new EventSource(url("/staff/events"));
    ["alerts", "unread", "queue", "message", "escalation"].forEach(function (name) {
      es.addEventListener(name, function (ev) { failures = 0; apply(name, JSON.parse(ev.data)); });
    });
    es.onopen = function () { body.setAttribute("data-live", "events"); };
    es.onerror = function () {
      // The stream ended (it does every few minutes) or failed: reconnect from the last
      // message shown; after repeated failures, poll instead.
      es.close();
      failures += 1;
      setTimeout(connect, 1000 * Math.min(failures, 5));
    };
  }
  connect();

  // --- keys ---
  document.addEventListener("keydown", function (ev) {
    var t = ev.target, tag = (t.tagName || "").toLowerCase();
    if ((ev.ctrlKey || ev.metaKey) && ev.key === "Enter" && tag === "textarea" && t.form) {
      ev.preventDefault();
      if (t.form.requestSubmit) t.form.requestSubmit(); else t.form.submit();
      return;
    }
    if (tag === "input" || tag === "textarea" || tag === "select" || t.isContentEditable ||
        ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (page === "queue") {
      var list = Array.prototype.map.call(rows(), function (r) { return r.getAttribute("data-escalation"); });
      if (!list.length) return;
      var i = list.indexOf(selected);
      if (ev.key === "j") { select(list[Math.min(i + 1, list.length - 1)]); ev.preventDefault(); }
      else if (ev.key === "k") { select(list[Math.max(i - 1, 0)]); ev.preventDefault(); }
      else if ((ev.key === "Enter" || ev.key === "o") && selected) {
        location.href = "/staff/escalations/" + selected;
      }
    } else if (page === "escalation") {
      if (ev.key === "c") {
        var claim = document.getElementById("claim");
        if (claim) { ev.preventDefault(); claim.click(); }
      } else if (ev.key === "r") {
        var outcome = document.querySelector("#resolve-form select[name=outcome]");
        if (outcome) { ev.preventDefault(); outcome.scrollIntoView({block: "center"}); outcome.focus(); }
      }
    }
  });
})();
