/* Finishing 3-D Secure: Stripe.js opens the bank's check for the PaymentIntent; whatever the
 * outcome, the form is posted so the server reads the result from the processor itself. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-authenticate]");
  if (!form || typeof Stripe === "undefined") { return; }
  var stripe = Stripe(form.getAttribute("data-stripe-key"));
  var secret = form.getAttribute("data-client-secret");
  var status = document.getElementById("authenticate-status");
  var start = form.querySelector("[data-start]");
  var running = false;

  function authenticate() {
    if (running) { return; }
    running = true;
    if (start) { start.disabled = true; }
    if (status) { status.textContent = "Waiting for your bank…"; }
    stripe.confirmCardPayment(secret).then(function () {
      if (status) { status.textContent = "Checking the result…"; }
      form.submit();
    }, function () {
      form.submit();
    });
  }
  if (start) { start.addEventListener("click", authenticate); }
  authenticate();
}());
