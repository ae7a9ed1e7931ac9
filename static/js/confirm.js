/* Forms with data-confirm="question" ask before they submit (a void or a delete cannot be
   undone). Without JavaScript they submit directly; the server still checks what is allowed. */
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
}());
