// Show-password buttons on the reader account pages. Progressive enhancement: the buttons are `hidden` in
// the HTML and shown here, so without JavaScript there is no button that does nothing, and the forms work
// the same. The button's name stays the same; aria-pressed says whether the password is shown.
(function () {
  "use strict";
  document.querySelectorAll("button[data-show-password]").forEach(function (button) {
    var input = document.getElementById(button.getAttribute("data-show-password"));
    if (!input) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var show = input.type === "password";
      input.type = show ? "text" : "password";
      button.setAttribute("aria-pressed", show ? "true" : "false");
    });
    // Submitting with the password shown: hide it again first, so the browser does not offer to remember it
    // as ordinary text and nobody sees it on the next page's back navigation.
    if (input.form) {
      input.form.addEventListener("submit", function () {
        input.type = "password";
        button.setAttribute("aria-pressed", "false");
      });
    }
  });

  // A link in the error summary puts the keyboard focus in its field (the browser alone only scrolls to
  // it), so the field's label and its error are read out and the reader can type at once.
  document.querySelectorAll(".error-summary a[href^='#']").forEach(function (link) {
    link.addEventListener("click", function (event) {
      var field = document.getElementById(link.getAttribute("href").slice(1));
      if (!field || typeof field.focus !== "function") {
        return;
      }
      event.preventDefault();
      field.focus();
    });
  });
})();
