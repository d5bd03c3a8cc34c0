// One product: its fields, and the ways to edit it, delete it or see its history.
import { products, whoami } from "../api.js";
import { confirmDialog } from "../dialog.js";
import { can } from "../roles.js";
import { alertBox, append, details, flash, h, heading, load, show, takeFlash, time } from "../ui.js";

/** Ask before deleting; delete only the version shown (If-Match), else explain. */
function deleteDialog(product, etag, { navigate, refresh }) {
  confirmDialog({
    title: `Delete “${product.name}”?`,
    text: "The product leaves the catalogue. Its history stays readable.",
    yesLabel: "Delete",
    action: async () => {
      try {
        await products.remove(product.id, etag);
      } catch (error) {
        if (error.status !== 412) throw error;
        flash("Someone changed this product after you opened it, so it was not deleted. Here is the new version; delete it again if you still mean to.");
        refresh();
        return;
      }
      flash(`Product “${product.name}” deleted. `,
        h("a", { href: `#/products/${product.id}/history` }, "See its history"), ".");
      navigate("#/products");
    },
  });
}

export default {
  auth: true,
  async render(view, context) {
    const { params, signal } = context;
    const alert = alertBox();
    const title = heading(`Product ${params.id}`);
    append(view, h("p", { class: "breadcrumbs" }, h("a", { href: "#/products" }, "Products")), title, takeFlash(), alert.element);
    const [answer] = await load(Promise.all([products.get(params.id, { signal }), whoami()]), alert, {
      extra: (error) => (error.status === 404
        ? h("p", {}, "If it was deleted, ", h("a", { href: `#/products/${params.id}/history` }, "its history"), " says when and by whom.")
        : null),
    }) ?? [];
    if (!answer) return;
    const product = answer.body;
    const etag = answer.headers.get("ETag");
    title.textContent = product.name;
    document.title = `${product.name} - Shop console`;
    const editor = can("change products");
    const remove = editor ? h("button", { type: "button", class: "danger" }, "Delete…") : null;
    remove?.addEventListener("click", () => deleteDialog(product, etag, context));
    append(view,
      details(
        product.sku === undefined ? null : ["SKU", show(product.sku)],
        ["Description", show(product.description)],
        ["Price", product.price],
        ["Quantity", String(product.quantity)],
        product.available === undefined ? null : ["Available", String(product.available)],
        ["Version", String(product.version)],
        ["Created", time(product.created_at)],
        ["Updated", time(product.updated_at)],
        ["Id", String(product.id)]),
      h("div", { class: "actions" },
        editor ? h("a", { class: "button", href: `#/products/${product.id}/edit` }, "Edit") : null,
        h("a", { class: "button secondary", href: `#/products/${product.id}/stock` }, "Stock"),
        h("a", { class: "button secondary", href: `#/products/${product.id}/history` }, "History"),
        remove));
  },
};
