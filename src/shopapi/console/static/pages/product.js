// One product: its fields, and the ways to edit it, delete it or see its history.
import { allowed, products, whoami } from "../api.js";
import { alertBox, append, busy, flash, h, heading, show, showProblem, takeFlash, time, uid } from "../ui.js";

function details(product) {
  const item = (label, value) => [h("dt", {}, label), h("dd", {}, value)];
  return h("dl", { class: "details" },
    item("Description", show(product.description)),
    item("Price", product.price),
    item("Quantity", String(product.quantity)),
    item("Version", String(product.version)),
    item("Created", time(product.created_at)),
    item("Updated", time(product.updated_at)),
    item("Id", String(product.id)));
}

/** Ask before deleting; delete only the version shown (If-Match), else explain. */
function deleteDialog(product, etag, { navigate, refresh }) {
  const titleId = uid("delete");
  const alert = alertBox();
  const yes = h("button", { type: "button", class: "danger" }, "Delete");
  const no = h("button", { type: "button", class: "secondary" }, "Cancel");
  const dialog = h("dialog", { "aria-labelledby": titleId },
    h("h2", { id: titleId }, `Delete “${product.name}”?`),
    h("p", {}, "The product leaves the catalogue. Its history stays readable."),
    alert.element,
    h("div", { class: "actions" }, yes, no));
  no.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());
  yes.addEventListener("click", () =>
    busy(yes, async () => {
      try {
        await products.remove(product.id, etag);
        dialog.close();
        flash(`Product “${product.name}” deleted. `,
          h("a", { href: `#/products/${product.id}/history` }, "See its history"), ".");
        navigate("#/products");
      } catch (error) {
        if (error.status === 412) {
          dialog.close();
          flash("Someone changed this product after you opened it, so it was not deleted. Here is the new version; delete it again if you still mean to.");
          refresh();
          return;
        }
        showProblem(error, alert);
      }
    }));
  document.body.append(dialog);
  dialog.showModal();
  no.focus();
}

export default {
  auth: true,
  async render(view, context) {
    const { params, signal } = context;
    const alert = alertBox();
    const title = heading(`Product ${params.id}`);
    append(view, h("p", { class: "breadcrumbs" }, h("a", { href: "#/products" }, "Products")), title, takeFlash(), alert.element);
    let answer;
    let me;
    try {
      [answer, me] = await Promise.all([products.get(params.id, { signal }), whoami()]);
    } catch (error) {
      if (error.name === "AbortError") throw error;
      showProblem(error, alert, {},
        error.status === 404 ? h("p", {}, "If it was deleted, ", h("a", { href: `#/products/${params.id}/history` }, "its history"), " says when and by whom.") : null);
      return;
    }
    const product = answer.body;
    const etag = answer.headers.get("ETag");
    title.textContent = product.name;
    document.title = `${product.name} - Shop console`;
    const editor = allowed(me, "products:write");
    const remove = editor ? h("button", { type: "button", class: "danger" }, "Delete…") : null;
    remove?.addEventListener("click", () => deleteDialog(product, etag, context));
    append(view,
      details(product),
      h("div", { class: "actions" },
        editor ? h("a", { class: "button", href: `#/products/${product.id}/edit` }, "Edit") : null,
        h("a", { class: "button secondary", href: `#/products/${product.id}/history` }, "History"),
        remove));
  },
};
