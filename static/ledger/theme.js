// Light or dark: the system's choice (prefers-color-scheme, which Pico follows) unless the reader
// picked one with the toggle; the pick is kept in localStorage. A file, not inline: the CSP forbids inline script.
(function () {
  "use strict";
  var KEY = "ledger-theme";
  var root = document.documentElement;
  var system = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function stored() {
    try {
      var value = window.localStorage.getItem(KEY);
      return value === "light" || value === "dark" ? value : null;
    } catch (e) {
      return null; // storage disabled: follow the system
    }
  }

  function current() {
    return stored() || (system && system.matches ? "dark" : "light");
  }

  function apply() {
    var chosen = stored();
    if (chosen) {
      root.setAttribute("data-theme", chosen);
    } else {
      root.removeAttribute("data-theme");
    }
    var button = document.getElementById("theme-toggle");
    if (button) {
      button.setAttribute("aria-pressed", current() === "dark" ? "true" : "false");
    }
  }

  apply();
  if (system && system.addEventListener) {
    system.addEventListener("change", apply);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("theme-toggle");
    if (!button) {
      return;
    }
    button.hidden = false; // without script there is nothing to toggle
    apply();
    button.addEventListener("click", function () {
      try {
        window.localStorage.setItem(KEY, current() === "dark" ? "light" : "dark");
      } catch (e) {
        root.setAttribute("data-theme", current() === "dark" ? "light" : "dark");
        return;
      }
      apply();
    });
  });
})();
