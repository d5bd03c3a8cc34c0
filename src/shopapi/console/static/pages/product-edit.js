// Editing a product. The save carries the version that was opened (If-Match); when
// someone saved another version meanwhile (412), the form shows theirs with the user's
// own changes on top, says what differs, and nothing is lost or overwritten unseen.
import { products } from "../api.js";
import { alertBox, append, busy, cell, clearProblem, flash, h, heading, load, show, showProblem, table } from "../ui.js";
import { FIELDS, changedFields, productForm, productRules } from "./product-form.js";

const LABELS = { name: "Name", description: "Description", price: "Price", quantity: "Quantity" };

function differences(rows, opened, mine, saved) {
  return table({
    class: "conflict-table",
    caption: "What changed",
    columns: ["Field", `When you opened it (version ${opened.version})`, "Your edit", `Saved now (version ${saved.version})`],
    rows: rows.map((name) => h("tr", {},
      h("th", { scope: "row" }, LABELS[name]),
      cell("When you opened it", show(opened[name])),
      cell("Your edit", show(changedFields(opened, mine).includes(name) ? mine[name] : "(unchanged)")),
      cell("Saved now", show(saved[name])))),
  });
}

export default {
  auth: true,
  keepsInput: true,
  async render(view, { params, signal, navigate }) {
    const id = params.id;
    const alert = alertBox();
    append(view, 
      h("p", { class: "breadcrumbs" }, h("a", { href: "#/products" }, "Products"), " › ",
        h("a", { href: `#/products/${id}` }, `Product ${id}`)),
      heading("Edit product"), alert.element);
    const [answer, rules] = await Promise.all([load(products.get(id, { signal }), alert), productRules()]);
    if (!answer) return;
    let opened = answer.body;
    let etag = answer.headers.get("ETag");
    const conflict = h("section", { class: "conflict", hidden: true, "aria-labelledby": `conflict-${id}` });

    async function showConflict(mine) {
      let latest;
      try {
        latest = await products.get(id);
      } catch (error) {
        if (error.status !== 404) {
          showProblem(error, alert);
          return;
        }
        alert.show(h("p", {}, "Someone deleted this product while you were editing, so nothing was saved. ",
          h("a", { href: `#/products/${id}/history` }, "See its history"), "."));
        alert.element.focus();
        return;
      }
      const saved = latest.body;
      const mineChanged = changedFields(opened, mine);
      const rows = FIELDS.filter((name) => mineChanged.includes(name) || changedFields(opened, saved).includes(name));
      const merged = Object.fromEntries(FIELDS.map((name) => [name, mineChanged.includes(name) ? mine[name] : saved[name]]));
      const discard = h("button", { type: "button", class: "secondary" }, "Discard my edits");
      discard.addEventListener("click", () => {
        editor.fill(saved);
        conflict.hidden = true;
        editor.fields.name.input.focus();
      });
      const title = h("h2", { id: `conflict-${id}`, tabindex: "-1" }, "Someone changed this product while you were editing");
      conflict.replaceChildren(
        title,
        h("p", {}, `Version ${saved.version} was saved after you opened version ${opened.version}, so your edit was not saved. `,
          "The form now holds the saved version with your edits on top: check it and save again, or discard your edits."),
        differences(rows, opened, mine, saved),
        h("div", { class: "actions" }, discard));
      conflict.hidden = false;
      opened = saved;
      etag = latest.headers.get("ETag");
      editor.fill(merged);
      title.focus();
    }

    const editor = productForm({
      product: opened,
      rules,
      submitLabel: "Save changes",
      onSubmit: () =>
        busy(editor.submit, async () => {
          clearProblem(editor.alert, editor.fields);
          const mine = editor.values();
          try {
            const { body } = await products.replace(id, mine, etag);
            flash(`Saved “${body.name}” as version ${body.version}.`);
            navigate(`#/products/${id}`);
          } catch (error) {
            if (error.status === 412) await showConflict(mine);
            else showProblem(error, editor.alert, editor.fields);
          }
        }),
    });
    append(view, conflict, editor.form, h("p", {}, h("a", { href: `#/products/${id}` }, "Cancel")));
  },
};
