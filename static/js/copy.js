/* Copy buttons: <button data-copy="#input-id"> copies that input's value to the clipboard. */
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll("[data-copy]"), function (button) {
    button.addEventListener("click", function () {
      var input = document.querySelector(button.getAttribute("data-copy"));
      var status = document.querySelector("[data-copy-status]");
      if (!input) { return; }
      function done(message) { if (status) { status.textContent = message; } }
      input.select();
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(input.value).then(
          function () { done("Copied to the clipboard."); },
          function () { done("Press Ctrl+C (or ⌘C) to copy the selected link."); }
        );
      } else {
        done("Press Ctrl+C (or ⌘C) to copy the selected link.");
      }
    });
  });
}());
