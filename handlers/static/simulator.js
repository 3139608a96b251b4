// Progressive enhancement for the simulator: send without reloading, and show the bot's
// messages as they arrive (long polling). Without JavaScript the form posts and redirects.
(function () {
  "use strict";
  var list = document.getElementById("messages");
  var form = document.getElementById("reply");
  if (!list || !form) return;
  var contact = list.getAttribute("data-contact");
  var last = parseInt(list.getAttribute("data-last") || "0", 10);

  function add(m) {
    if (m.id <= last) return;
    last = m.id;
    var empty = document.getElementById("no-messages");
    if (empty) empty.remove();
    var li = document.createElement("li");
    li.className = "msg " + m.direction;
    li.setAttribute("data-id", m.id);
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = m.sender_label;
    var body = document.createElement("span");
    body.className = "body";
    body.textContent = m.body;
    li.appendChild(who);
    li.appendChild(body);
    list.appendChild(li);
    list.scrollTop = list.scrollHeight;
  }

  function poll() {
    fetch("/simulator/api/contacts/" + contact + "/messages?after=" + last + "&wait=20")
      .then(function (r) { return r.json(); })
      .then(function (data) { data.messages.forEach(add); poll(); })
      .catch(function () { setTimeout(poll, 2000); });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var input = form.querySelector("input[name=text]");
    var text = input.value.trim();
    if (!text) return;
    var body = new URLSearchParams(new FormData(form));
    input.value = "";
    fetch(form.action, { method: "POST", body: body, headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) { form.querySelector("input[name=nonce]").value = data.next_nonce; });
  });
  poll();
})();
