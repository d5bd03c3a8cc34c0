// The catalogue, a page at a time, following the API's cursors: searched, filtered and
// sorted as the address says, so a search can be bookmarked and shared.
import { products, whoami } from "../api.js";
import { can } from "../roles.js";
import { alertBox, append, busy, cell, field, h, heading, load, numberCell, pager, show, showProblem, table, takeFlash, time, uid } from "../ui.js";

const SIZES = [10, 25, 50, 100];
const DEFAULT_SIZE = 25;
const FILTERS = ["q", "min_price", "max_price", "in_stock", "sort"];
// The columns the API sorts by, and the labels of their headers.
const SORTS = { name: "Name", price: "Price", quantity: "Quantity", updated_at: "Updated" };
// Cursors of the pages seen so far ("<filters>|25:3" -> cursor of page 3 at 25 a page): the
// API's cursors only go forward, so "Previous page" uses the one remembered for it.
const cursors = new Map();

function readQuery(query) {
  const limit = SIZES.includes(Number(query.get("limit"))) ? Number(query.get("limit")) : DEFAULT_SIZE;
  const cursor = query.get("cursor");
  const number = cursor ? Math.max(2, Number.parseInt(query.get("page"), 10) || 2) : 1;
  const filters = {};
  for (const name of FILTERS) if (query.get(name)) filters[name] = query.get(name);
  return { limit, cursor, number, filters };
}

function pageHash(filters, limit, number = 1, cursor = null) {
  const query = new URLSearchParams();
  for (const name of FILTERS) if (filters[name]) query.set(name, filters[name]);
  if (limit !== DEFAULT_SIZE) query.set("limit", String(limit));
  if (number > 1) {
    query.set("page", String(number));
    query.set("cursor", cursor);
  }
  return `#/products${query.size ? `?${query}` : ""}`;
}

/** A sortable column's header: a button that sorts by it, ascending first, then descending. */
function sortHeader(column, filters, limit, navigate) {
  const sort = filters.sort || "id";
  const ascending = sort === column;
  const descending = sort === `-${column}`;
  const next = ascending ? `-${column}` : column;
  const button = h("button", { type: "button", class: "link-button sort" }, SORTS[column],
    h("span", { "aria-hidden": "true" }, ascending ? " ▲" : descending ? " ▼" : ""));
  button.addEventListener("click", () => navigate(pageHash({ ...filters, sort: next }, limit)));
  const label = h("span", {}, button);
  return { label, class: ["price", "quantity"].includes(column) ? "number" : null,
    sort: ascending ? "ascending" : descending ? "descending" : null };
}

function row(product) {
  return h("tr", {},
    cell("Name", h("a", { href: `#/products/${product.id}` }, product.name)),
    cell("SKU", show(product.sku)),
    cell("Description", show(product.description)),
    numberCell("Price", product.price),
    numberCell("Quantity", product.quantity),
    numberCell("Available", product.available),
    cell("Updated", time(product.updated_at)));
}

/** The search box and filters; sending them starts again at the first page. */
function filterForm(filters, limit, navigate) {
  const q = field({ name: "q", label: "Search", value: filters.q, type: "search",
    hint: "Words of the name or description, or a SKU." });
  const min = field({ name: "min_price", label: "Lowest price", value: filters.min_price, inputmode: "decimal" });
  const max = field({ name: "max_price", label: "Highest price", value: filters.max_price, inputmode: "decimal" });
  const stockId = uid("in-stock");
  const stock = h("select", { id: stockId, name: "in_stock" },
    [["", "any"], ["true", "available"], ["false", "none available"]].map(([value, label]) =>
      h("option", { value, selected: (filters.in_stock || "") === value }, label)));
  const form = h("form", { method: "get", role: "search", novalidate: true, class: "filters" },
    q.element, min.element, max.element,
    h("div", { class: "field" }, h("label", { for: stockId }, "Stock"), stock),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "secondary" }, "Search"),
      Object.keys(filters).length ? h("a", { href: pageHash({}, limit) }, "Clear") : null));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate(pageHash({
      q: q.input.value.trim(), min_price: min.input.value.trim(), max_price: max.input.value.trim(),
      in_stock: stock.value, sort: filters.sort,
    }, limit));
  });
  return { form, fields: { q, min_price: min, max_price: max } };
}

/** Download the CSV of what the filters match, in their order. */
async function exportView(button, filters, alert) {
  await busy(button, async () => {
    alert.clear();
    try {
      const { body } = await products.exportCsv(filters);
      const url = URL.createObjectURL(new Blob([body], { type: "text/csv" }));
      const a = h("a", { href: url, download: "products.csv", hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (error) {
      showProblem(error, alert);
    }
  });
}

/** The links to the first, previous and next pages, and the choice of a page's size. */
function pages(filters, limit, number, nextCursor, navigate) {
  const select = h("select", { id: "page-size" }, SIZES.map((n) => h("option", { value: String(n), selected: n === limit }, String(n))));
  select.addEventListener("change", () => navigate(pageHash(filters, Number(select.value))));
  const remembered = cursors.get(`${JSON.stringify(filters)}|${limit}:${number - 1}`);
  let previous = null;
  if (number === 2) previous = pageHash(filters, limit);
  else if (remembered) previous = pageHash(filters, limit, number - 1, remembered);
  return pager({
    cursor: number > 1,
    nextCursor,
    hashFor: (cursor) => (cursor ? pageHash(filters, limit, number + 1, cursor) : pageHash(filters, limit)),
    previous,
    beside: h("div", { class: "page-size" }, h("label", { for: "page-size" }, "Products per page"), select),
  });
}

export default {
  auth: true,
  async render(view, { query, signal, navigate }) {
    const { limit, cursor, number, filters } = readQuery(query);
    const alert = alertBox();
    const status = h("p", { role: "status" }, "Loading products…");
    const titleRow = h("div", { class: "title-row" }, heading("Products"));
    const search = filterForm(filters, limit, navigate);
    append(view, titleRow, takeFlash(), alert.element, search.form, status);
    const [answer] = await load(Promise.all([products.page({ limit, cursor, ...filters }, { signal }), whoami()]), alert, {
      fields: search.fields,
      extra: () => (cursor ? h("p", {}, h("a", { href: pageHash(filters, limit) }, "Back to the first page")) : null),
    }) ?? [];
    if (!answer) {
      status.remove();
      return;
    }
    const { body } = answer;
    cursors.set(`${JSON.stringify(filters)}|${limit}:${number}`, cursor);
    // Viewers read; editors and admins also change (the API would refuse them with 403).
    const editor = can("change products");
    const exporter = h("button", { type: "button", class: "secondary" }, "Export CSV");
    exporter.addEventListener("click", () => exportView(exporter, filters, alert));
    append(titleRow, h("div", { class: "actions" },
      editor ? h("a", { href: "#/products/new", class: "button" }, "New product") : null,
      editor ? h("a", { href: "#/products/import", class: "button secondary" }, "Import CSV") : null,
      body.items.length ? exporter : null));
    const searching = Object.keys(filters).some((name) => name !== "sort");
    if (body.items.length === 0) {
      if (number > 1) status.replaceChildren("No more products. ", h("a", { href: pageHash(filters, limit) }, "Back to the first page"), ".");
      else if (searching) status.replaceChildren("No product matches. ", h("a", { href: pageHash({}, limit) }, "Show every product"), ".");
      else if (editor) status.replaceChildren("No products yet. ", h("a", { href: "#/products/new" }, "Create the first one"), ".");
      else status.replaceChildren("No products yet.");
      return;
    }
    const last = number === 1 && !body.next_cursor ? "" : `, page ${number}`;
    status.textContent = `${body.items.length} product${body.items.length === 1 ? "" : "s"}${searching ? " found" : ""}${last}.`;
    status.classList.add("visually-hidden");
    const sorted = (column) => sortHeader(column, filters, limit, navigate);
    const columns = [sorted("name"), "SKU", "Description", sorted("price"), sorted("quantity"),
      { label: "Available", class: "number" }, sorted("updated_at")];
    const list = table({ class: "products", caption: `Products, page ${number}`, columns, rows: body.items.map(row) });
    // aria-sort on the header of the column the list is sorted by.
    list.querySelectorAll("th").forEach((th, i) => {
      if (columns[i]?.sort) th.setAttribute("aria-sort", columns[i].sort);
    });
    append(view, list, pages(filters, limit, number, body.next_cursor, navigate));
  },
};
