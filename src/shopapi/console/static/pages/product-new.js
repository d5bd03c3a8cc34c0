// A new product. A retry of the same form after a failure sends the same Idempotency-Key,
// so a create whose answer was lost on the way is not made twice.
import { newKey, products } from "../api.js";
import { append, busy, clearProblem, flash, h, heading, showProblem } from "../ui.js";
import { productForm } from "./product-form.js";

export default {
  auth: true,
  keepsInput: true,
  render(view, { navigate }) {
    let key = null;
    let sent = null;
    const editor = productForm({
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
    append(view, 
      h("p", { class: "breadcrumbs" }, h("a", { href: "#/products" }, "Products")),
      heading("New product"),
      editor.form,
    );
  },
};
