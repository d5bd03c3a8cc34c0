// The fields of a product, shared by "New product" and "Edit product".
import { alertBox, field, h } from "../ui.js";

export const FIELDS = ["name", "description", "price", "quantity"];

/**
 * A product form. `product` fills it (prices are the API's strings, shown as they are).
 * Returns `{form, alert, fields, submit, values(), fill(product)}`.
 */
export function productForm({ product = {}, submitLabel, onSubmit }) {
  const alert = alertBox();
  const fields = {
    name: field({ name: "name", label: "Name", required: true, autocomplete: "off", hint: "1 to 100 characters." }),
    description: field({ name: "description", label: "Description", multiline: true, rows: "3", hint: "Up to 255 characters; may be left empty." }),
    price: field({ name: "price", label: "Price", required: true, inputmode: "decimal", autocomplete: "off", hint: "From 0 to 99999999.99, at most two decimals, e.g. 19.90." }),
    quantity: field({ name: "quantity", label: "Quantity", required: true, inputmode: "numeric", autocomplete: "off", hint: "A whole number from 0." }),
  };
  const submit = h("button", { type: "submit" }, submitLabel);
  const form = h("form", { method: "post", novalidate: true, class: "product-form" },
    alert.element, FIELDS.map((name) => fields[name].element), h("div", { class: "actions" }, submit));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onSubmit();
  });

  function fill(values) {
    fields.name.input.value = values.name ?? "";
    fields.description.input.value = values.description ?? "";
    fields.price.input.value = values.price ?? "";
    fields.quantity.input.value = values.quantity === undefined || values.quantity === null ? "" : String(values.quantity);
  }
  fill(product);

  return { form, alert, fields, submit, fill, values: () => readValues(fields) };
}

/**
 * The form's values in the API's terms. The price goes as the string typed (the API
 * keeps it exact; a float would not), the quantity as a JSON integer when it is one.
 * Anything else goes as typed, so the API's own message says what is wrong.
 */
function readValues(fields) {
  const description = fields.description.input.value;
  const quantity = fields.quantity.input.value.trim();
  return {
    name: fields.name.input.value,
    description: description.trim() === "" ? null : description,
    price: fields.price.input.value.trim(),
    quantity: /^[0-9]{1,15}$/.test(quantity) ? Number(quantity) : quantity,
  };
}

/** The fields whose values differ between two products (in API form). */
export function changedFields(a, b) {
  return FIELDS.filter((name) => String(a[name] ?? "") !== String(b[name] ?? ""));
}
