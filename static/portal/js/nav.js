// The menu button of the narrow layout. A static file because the CSP forbids inline script.
// Without this script the button stays hidden and the navigation stays visible (see the CSS).
(function () {
  "use strict";
  var sidebar = document.querySelector(".sidebar");
  var button = sidebar && sidebar.querySelector(".nav-toggle");
  if (!button) return;

  function setOpen(open) {
    sidebar.classList.toggle("nav-open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }

  sidebar.classList.add("js-nav");
  button.hidden = false;
  button.addEventListener("click", function () {
    setOpen(button.getAttribute("aria-expanded") !== "true");
  });
  // Escape closes the open menu and returns focus to its button, as a disclosure should.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && sidebar.classList.contains("nav-open")) {
      setOpen(false);
      button.focus();
    }
  });
})();
