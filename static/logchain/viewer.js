// The log viewer: start at the newest line (the bottom), and optionally follow by reloading.
(function () {
  "use strict";
  var terminal = document.getElementById("terminal");
  if (terminal) {
    terminal.scrollTop = terminal.scrollHeight;
  }
  var follow = document.getElementById("follow");
  if (!follow) {
    return;
  }
  var KEY = "logchain.follow";
  var paged = new URLSearchParams(window.location.search).has("before");
  follow.checked = !paged && window.sessionStorage.getItem(KEY) === "1";
  var timer = null;
  function schedule() {
    if (timer) {
      window.clearTimeout(timer);
      timer = null;
    }
    if (follow.checked) {
      timer = window.setTimeout(function () { window.location.reload(); }, 5000);
    }
  }
  follow.addEventListener("change", function () {
    window.sessionStorage.setItem(KEY, follow.checked ? "1" : "0");
    schedule();
  });
  schedule();
})();
