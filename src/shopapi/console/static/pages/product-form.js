// The fields of a product, shared by "New product" and "Edit product". Their limits come
// from the service's OpenAPI document, so a limit changed on the server changes the hints.
import { openApi } from "../api.js";
import { alertBox, field, h } from "../ui.js";

export const FIELDS = ["name", "sku", "description", "price", "quantity"];

/**
 * What /openapi.json says of each field of a product's request body (`ProductIn`), or
 * `{}` when it cannot be read (the hints then leave the numbers out; the API still judges).
 */
export async function productRules() {
  try {
    const document = await openApi();
    return document?.components?.schemas?.ProductIn?.properties ?? {};
  } catch {
    return {};
  }
}

/** The hint under each field, with the limits `rules` (from `productRules()`) state. */
export function productHints(rules = {}) {
  const { name = {}, sku = {}, description = {}, price = {}, quantity = {} } = rules;
  const number = (price.anyOf ?? []).find((choice) => choice.type === "number") ?? {};
  return {
    name: name.maxLength === undefined ? "Required." : `${name.minLength ?? 0} to ${name.maxLength} characters.`,
    sku: sku.maxLength === undefined
      ? "The shop's own code for it; may be left empty."
      : `Up to ${sku.maxLength} letters, digits, dots, dashes and underscores, unique (capitals or not); may be left empty.`,
    description: description.maxLength === undefined
      ? "May be left empty."
      : `Up to ${description.maxLength} characters; may be left empty.`,
    price: number.maximum === undefined
      ? "At most two decimals, e.g. 19.90."
      : `From ${number.minimum ?? 0} to ${number.maximum}, at most two decimals, e.g. 19.90.`,
    quantity: quantity.minimum === undefined ? "A whole number." : `A whole number from ${quantity.minimum}.`,
  };
}

/**
 * A product form. `product` fills it (prices are the API's strings, shown as they are);
 * `rules` (from `productRules()`) give the hints their limits.
 * Returns `{form, alert, fields, submit, values(), fill(product)}`.
 */
export function productForm({ product = {}, rules = {}, submitLabel, onSubmit }) {
  const alert = alertBox();
  const hint = productHints(rules);
  const fields = {
    name: field({ name: "name", label: "Name", required: true, autocomplete: "off", hint: hint.name }),
    sku: field({ name: "sku", label: "SKU", autocomplete: "off", spellcheck: "false", hint: hint.sku }),
    description: field({ name: "description", label: "Description", multiline: true, rows: "3", hint: hint.description }),
    price: field({ name: "price", label: "Price", required: true, inputmode: "decimal", autocomplete: "off", hint: hint.price }),
    quantity: field({ name: "quantity", label: "Quantity", required: true, inputmode: "numeric", autocomplete: "off", hint: hint.quantity }),
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
    fields.sku.input.value = values.sku ?? "";
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
  const sku = fields.sku.input.value.trim();
  const quantity = fields.quantity.input.value.trim();
  return {
    name: fields.name.input.value,
    sku: sku === "" ? null : sku,
    description: description.trim() === "" ? null : description,
    price: fields.price.input.value.trim(),
    quantity: /^[0-9]{1,15}$/.test(quantity) ? Number(quantity) : quantity,
  };
}

/** The fields whose values differ between two products (in API form). */
export function changedFields(a, b) {
  return FIELDS.filter((name) => String(a[name] ?? "") !== String(b[name] ?? ""));
}
