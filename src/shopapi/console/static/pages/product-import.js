// Products from a CSV file, by SKU: first a dry run that says what would happen (or every
// bad line), then the import itself, all lines or none.
import { newKey, products, whoami } from "../api.js";
import { can } from "../roles.js";
import { alertBox, append, busy, cell, flash, h, heading, numberCell, showProblem, table, uid } from "../ui.js";

function summary(result, dryRun) {
  const verb = dryRun ? "would be" : "were";
  return `${result.created} product${result.created === 1 ? "" : "s"} ${verb} created, ${result.updated} updated, ${result.unchanged} unchanged.`;
}

function errorTable(errors) {
  return table({
    class: "import-errors",
    caption: `Lines to correct (${errors.length})`,
    columns: [{ label: "Line", class: "number" }, "Column", "Problem"],
    rows: errors.map((e) => h("tr", {}, numberCell("Line", e.line), cell("Column", e.field ?? ""), cell("Problem", e.message))),
  });
}

export default {
  auth: true,
  async render(view, { navigate }) {
    const alert = alertBox();
    append(view,
      h("p", { class: "breadcrumbs" }, h("a", { href: "#/products" }, "Products")),
      heading("Import products"), alert.element);
    const me = await whoami();
    if (me && !can("change products", me)) {
      append(view, h("p", { class: "alert", role: "status" },
        `Your role (${me.role}) can't import products: it may only read them. An admin can change your role.`));
      return;
    }
    const fileId = uid("file");
    const file = h("input", { id: fileId, type: "file", accept: ".csv,text/csv", "aria-describedby": `${fileId}-hint` });
    const check = h("button", { type: "submit" }, "Check file");
    const apply = h("button", { type: "button", hidden: true }, "Import");
    const progress = h("progress", { hidden: true, "aria-label": "Progress" });
    const status = h("p", { role: "status" });
    const report = h("div", { class: "import-report" });
    const form = h("form", { method: "post", novalidate: true },
      h("p", {}, "A header line naming the columns, then one product a line. Each line creates the product with that SKU, or updates the one that has it (SKUs match without regard to case). A CSV exported here imports back."),
      h("div", { class: "field" }, h("label", { for: fileId }, "CSV file"),
        h("p", { class: "hint", id: `${fileId}-hint` }, "Columns: sku (required), name, description, price, quantity; UTF-8."), file),
      h("div", { class: "actions" }, check, apply, progress), status, report);
    append(view, form);

    let content = null;
    let key = null;
    async function send(dryRun) {
      alert.clear();
      report.replaceChildren();
      progress.hidden = false;
      status.textContent = dryRun ? "Checking the file…" : "Importing…";
      try {
        const { body } = await products.importCsv(content, { dryRun, idempotencyKey: dryRun ? newKey() : key });
        if (!dryRun) {
          flash(`Imported: ${summary(body, false)}`);
          navigate("#/products");
          return;
        }
        status.textContent = `The file is good: ${summary(body, true)} Nothing has changed yet.`;
        apply.hidden = false;
      } catch (error) {
        status.textContent = "";
        apply.hidden = true;
        const errors = error.problem?.errors;
        if (Array.isArray(errors) && errors.length) {
          alert.show(h("p", {}, error.message));
          report.replaceChildren(errorTable(errors));
          alert.element.focus();
        } else {
          showProblem(error, alert);
        }
      } finally {
        progress.hidden = true;
      }
    }
    file.addEventListener("change", () => {
      apply.hidden = true;
      status.textContent = "";
      report.replaceChildren();
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(check, async () => {
        const chosen = file.files?.[0];
        if (!chosen) {
          alert.show(h("p", {}, "Choose a CSV file first."));
          alert.element.focus();
          return;
        }
        content = await chosen.text();
        key = newKey(); // one import of this content: a retry of it sends the same key
        await send(true);
      });
    });
    apply.addEventListener("click", () => busy(apply, () => send(false)));
  },
};
