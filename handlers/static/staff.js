// Live queue: re-fetch the rows every few seconds (plain polling: works through every proxy).
(function () {
  var box = document.getElementById("rows");
  if (!box) return;
  var src = box.getAttribute("data-src");
  function refresh() {
    fetch(src, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null && html !== box.innerHTML) box.innerHTML = html; })
      .catch(function () {})
      .finally(function () { setTimeout(refresh, 3000); });
  }
  setTimeout(refresh, 3000);
})();
