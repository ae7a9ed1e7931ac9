/* Card entry with Stripe.js for forms marked data-stripe-form: saving a card, paying with a
 * new one. On submit (when a new card is chosen) it asks our server for a SetupIntent, lets
 * Stripe.js confirm it with the card element (the card number never reaches our server), puts
 * the SetupIntent id in the form and submits it. Saved-card payments submit as plain forms.
 * Works with Stripe.js and with localstripe's fake (whose change handlers get no argument). */
(function () {
  "use strict";
  var form = document.querySelector("form[data-stripe-form]");
  if (!form || typeof Stripe === "undefined") { return; }

  var stripe = Stripe(form.getAttribute("data-stripe-key"));
  var card = stripe.elements().create("card");
  var entry = form.querySelector("[data-card-entry]");
  var errors = form.querySelector("#card-errors");
  var button = form.querySelector("[data-submit]");
  var buttonText = button ? button.textContent : "";
  var tokenInput = form.querySelector("input[name=csrf_token]");
  card.mount("#card-element");
  card.on("change", function () { if (errors) { errors.textContent = ""; } });

  function newCardChosen() {
    var chosen = form.querySelector("input[name=card]:checked");
    return !chosen || chosen.value === "new";
  }

  function showEntry() {
    if (entry) { entry.hidden = !newCardChosen(); }
  }
  Array.prototype.forEach.call(form.querySelectorAll("input[name=card]"), function (radio) {
    radio.addEventListener("change", showEntry);
  });
  showEntry();

  function busy(on, text) {
    if (!button) { return; }
    button.disabled = on;
    button.textContent = on ? text : buttonText;
  }

  function fail(message) {
    busy(false);
    if (errors) { errors.textContent = message; }
  }

  form.addEventListener("submit", function (event) {
    if (form.getAttribute("data-ready") === "1" || !newCardChosen()) {
      busy(true, "Paying…");
      return;
    }
    event.preventDefault();
    busy(true, "Checking your card…");
    fetch(form.getAttribute("data-setup-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": tokenInput ? tokenInput.value : "", "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (body) {
        if (!response.ok || !body.client_secret) {
          throw new Error(body.error || "We could not start the card check. Please try again.");
        }
        return stripe.confirmCardSetup(body.client_secret, { payment_method: { card: card } });
      });
    }).then(function (result) {
      if (result.error) {
        throw new Error(result.error.message || "Your card could not be saved. Check the details or try another card.");
      }
      form.querySelector("input[name=setup_intent_id]").value = result.setupIntent.id;
      form.setAttribute("data-ready", "1");
      busy(true, "Paying…");
      form.submit();
    }).catch(function (error) {
      fail(error.message || String(error));
    });
  });
}());
