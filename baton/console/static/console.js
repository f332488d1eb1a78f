// Live updates without inline script (the CSP forbids it): every second, ask the
// server whether what this page shows changed (/poll answers a version); if it did,
// reload, unless the person is typing a comment. Open <details> stay open.
(function () {
  "use strict";
  var body = document.body;
  var poll = body.getAttribute("data-poll");
  var key = "baton-open:" + location.pathname;
  try {
    JSON.parse(sessionStorage.getItem(key) || "[]").forEach(function (id) {
      var found = document.getElementById(id);
      if (found && found.tagName === "DETAILS") { found.open = true; }
    });
  } catch (e) { /* storage unavailable: nothing to restore */ }
  if (!poll) { return; }
  var version = body.getAttribute("data-version");
  function typing() {
    var fields = document.querySelectorAll("textarea, input[type=text], input[type=password]");
    for (var i = 0; i < fields.length; i++) { if (fields[i].value) { return true; } }
    return false;
  }
  function reload() {
    var open = [];
    document.querySelectorAll("details[open][id]").forEach(function (d) { open.push(d.id); });
    try { sessionStorage.setItem(key, JSON.stringify(open)); } catch (e) { /* ignore */ }
    location.reload();
  }
  function tick() {
    fetch(poll, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (answer) {
        if (answer && answer.version !== version && !typing()) { reload(); return; }
        setTimeout(tick, 1000);
      })
      .catch(function () { setTimeout(tick, 2000); });
  }
  setTimeout(tick, 1000);
})();
