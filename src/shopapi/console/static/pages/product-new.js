// A new product. A retry of the same form after a failure sends the same Idempotency-Key,
// so a create whose answer was lost on the way is not made twice.
import { newKey, products, whoami } from "../api.js";
import { can } from "../roles.js";
import { append, busy, clearProblem, flash, h, heading, showProblem } from "../ui.js";
import { productForm, productRules } from "./product-form.js";

export default {
  auth: true,
  keepsInput: true,
  async render(view, { navigate }) {
    append(view,
      h("p", { class: "breadcrumbs" }, h("a", { href: "#/products" }, "Products")),
      heading("New product"),
    );
    // Someone who typed the address without the role for it: say so instead of a form
    // the service would refuse. (An unknown role gets the form; the API judges.)
    const me = await whoami();
    if (me && !can("change products", me)) {
      append(view, h("p", { class: "alert", role: "status" },
        `Your role (${me.role}) can't create products: it may only read them. An admin can change your role.`),
      h("p", {}, h("a", { href: "#/products" }, "Back to the products")));
      return;
    }
    const rules = await productRules();
    let key = null;
    let sent = null;
    const editor = productForm({
      rules,
      submitLabel: "Create product",
      onSubmit: () =>
        busy(editor.submit, async () => {
          clearProblem(editor.alert, editor.fields);
          const values = editor.values();
          const body = JSON.stringify(values);
          // Same values as the last try: same key. Other values: a new product, a new key.
          if (body !== sent) {
            key = newKey();
            sent = body;
          }
          try {
            const { body: product } = await products.create(values, key);
            flash(`Product “${product.name}” created.`);
            navigate(`#/products/${product.id}`);
          } catch (error) {
            showProblem(error, editor.alert, editor.fields);
          }
        }),
    });
    append(view, editor.form);
  },
};
