// The product list, a page at a time, following the API's cursors.
import { products, whoami } from "../api.js";
import { can } from "../roles.js";
import { alertBox, append, cell, h, heading, load, numberCell, pager, show, table, takeFlash, time } from "../ui.js";

const SIZES = [10, 25, 50, 100];
const DEFAULT_SIZE = 25;
// Cursors of the pages seen so far ("25:3" -> cursor of page 3 at 25 a page): the API's
// cursors only go forward, so "Previous page" uses the one remembered for it.
const cursors = new Map();

function pageHash(limit, number, cursor) {
  const query = new URLSearchParams({ limit: String(limit) });
  if (number > 1) {
    query.set("page", String(number));
    query.set("cursor", cursor);
  }
  return `#/products?${query}`;
}

function readQuery(query) {
  const limit = SIZES.includes(Number(query.get("limit"))) ? Number(query.get("limit")) : DEFAULT_SIZE;
  const cursor = query.get("cursor");
  const number = cursor ? Math.max(2, Number.parseInt(query.get("page"), 10) || 2) : 1;
  return { limit, cursor, number };
}

const NUMBERS = ["Price", "Quantity", "Version"];
const COLUMNS = ["Name", "Description", ...NUMBERS, "Updated"].map((label) =>
  ({ label, class: NUMBERS.includes(label) ? "number" : null }));

function row(product) {
  return h("tr", {},
    cell("Name", h("a", { href: `#/products/${product.id}` }, product.name)),
    cell("Description", show(product.description)),
    numberCell("Price", product.price),
    numberCell("Quantity", product.quantity),
    numberCell("Version", product.version),
    cell("Updated", time(product.updated_at)));
}

/** The links to the first, previous and next pages, and the choice of a page's size. */
function pages(limit, number, nextCursor, navigate) {
  const select = h("select", { id: "page-size" }, SIZES.map((n) => h("option", { value: String(n), selected: n === limit }, String(n))));
  select.addEventListener("change", () => navigate(pageHash(Number(select.value), 1)));
  const remembered = cursors.get(`${limit}:${number - 1}`);
  let previous = null;
  if (number === 2) previous = pageHash(limit, 1);
  else if (remembered) previous = pageHash(limit, number - 1, remembered);
  return pager({
    cursor: number > 1,
    nextCursor,
    hashFor: (cursor) => (cursor ? pageHash(limit, number + 1, cursor) : pageHash(limit, 1)),
    previous,
    beside: h("div", { class: "page-size" }, h("label", { for: "page-size" }, "Products per page"), select),
  });
}

export default {
  auth: true,
  async render(view, { query, signal, navigate }) {
    const { limit, cursor, number } = readQuery(query);
    const alert = alertBox();
    const status = h("p", { role: "status" }, "Loading products…");
    const titleRow = h("div", { class: "title-row" }, heading("Products"));
    append(view, titleRow, takeFlash(), alert.element, status);
    const [answer] = await load(Promise.all([products.page({ limit, cursor }, { signal }), whoami()]), alert, {
      extra: () => (cursor ? h("p", {}, h("a", { href: pageHash(limit, 1) }, "Back to the first page")) : null),
    }) ?? [];
    if (!answer) {
      status.remove();
      return;
    }
    const { body } = answer;
    cursors.set(`${limit}:${number}`, cursor);
    // Viewers read; editors and admins also change (the API would refuse them with 403).
    const editor = can("change products");
    if (editor) append(titleRow, h("a", { href: "#/products/new", class: "button" }, "New product"));
    if (body.items.length === 0) {
      if (number > 1) status.replaceChildren("No more products. ", h("a", { href: pageHash(limit, 1) }, "Back to the first page"), ".");
      else if (editor) status.replaceChildren("No products yet. ", h("a", { href: "#/products/new" }, "Create the first one"), ".");
      else status.replaceChildren("No products yet.");
      return;
    }
    const last = number === 1 && !body.next_cursor ? "" : `, page ${number}`;
    status.textContent = `${body.items.length} product${body.items.length === 1 ? "" : "s"}${last}.`;
    status.classList.add("visually-hidden");
    append(view,
      table({ class: "products", caption: `Products, page ${number}`, columns: COLUMNS, rows: body.items.map(row) }),
      pages(limit, number, body.next_cursor, navigate));
  },
};
