/* The invoice editor, made quicker: picking a product fills its row (description, the price in
   the invoice's currency, its usual taxes), and "Add lines" adds one blank row in place instead
   of reloading. Without JavaScript the server does both (see admin/invoice_forms.py). */
(function () {
  "use strict";
  var form = document.querySelector(".invoice-editor");
  if (!form) { return; }
  var products = {};
  try { products = JSON.parse(form.getAttribute("data-products") || "{}"); } catch (e) { products = {}; }
  var body = form.querySelector("[data-lines]");
  var currency = form.querySelector("[name=currency]");

  function field(row, name) {
    return row.querySelector("[name$='-" + name + "']");
  }

  function fill(row) {
    var product = products[field(row, "product").value];
    if (!product) { return; }
    var description = field(row, "description");
    var price = field(row, "unit_price");
    var code = currency ? currency.value : "";
    if (!description.value || description.getAttribute("data-filled") === "1") {
      description.value = product.name;
      description.setAttribute("data-filled", "1");
    }
    if (product.prices[code] !== undefined) {
      price.value = product.prices[code];
    }
    Array.prototype.forEach.call(row.querySelectorAll("input[type=checkbox][name$='-taxes']"), function (box) {
      box.checked = product.taxes.indexOf(box.value) !== -1;
    });
  }

  body.addEventListener("change", function (event) {
    if (event.target.name && /-product$/.test(event.target.name)) {
      fill(event.target.closest("tr"));
    }
  });

  var add = form.querySelector("[data-add-line]");
  if (add && body) {
    add.addEventListener("click", function (event) {
      var rows = body.querySelectorAll("tr.line-row");
      var last = rows[rows.length - 1];
      if (!last || rows.length >= 200) { return; }
      event.preventDefault();
      var index = rows.length;
      var copy = last.cloneNode(true);
      Array.prototype.forEach.call(copy.querySelectorAll("[name], [id], label[for]"), function (el) {
        ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (value) { el.setAttribute(attr, value.replace(/lines-\d+-/g, "lines-" + index + "-")); }
        });
        if (el.tagName === "INPUT" && el.type === "checkbox") {
          el.checked = false;
        } else if (el.tagName === "INPUT") {
          el.value = el.name && /-quantity$/.test(el.name) ? "1" : "";
        }
        if (el.tagName === "SELECT") {
          Array.prototype.forEach.call(el.options, function (o) { o.selected = false; });
          el.selectedIndex = el.multiple ? -1 : 0;
        }
        el.removeAttribute("aria-invalid");
        el.removeAttribute("data-filled");
      });
      Array.prototype.forEach.call(copy.querySelectorAll(".field-error, .line-note"), function (el) {
        el.remove();
      });
      Array.prototype.forEach.call(copy.querySelectorAll(".has-error"), function (el) {
        el.classList.remove("has-error");
      });
      Array.prototype.forEach.call(copy.querySelectorAll("label.visually-hidden"), function (el) {
        el.textContent = el.textContent.replace(/^Line \d+/, "Line " + (index + 1));
      });
      body.appendChild(copy);
      field(copy, "product").focus();
    });
  }
}());
