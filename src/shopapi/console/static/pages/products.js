// The product list, a page at a time, following the API's cursors.
import { allowed, products, whoami } from "../api.js";
import { alertBox, append, h, heading, show, showProblem, takeFlash, time } from "../ui.js";

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

const COLUMNS = ["Name", "Description", "Price", "Quantity", "Version", "Updated"];

function row(product) {
  // data-label names each cell where narrow screens show rows as cards.
  const cell = (label, ...content) => h("td", { "data-label": label }, ...content);
  return h("tr", {},
    cell("Name", h("a", { href: `#/products/${product.id}` }, product.name)),
    cell("Description", show(product.description)),
    h("td", { "data-label": "Price", class: "number" }, product.price),
    h("td", { "data-label": "Quantity", class: "number" }, String(product.quantity)),
    h("td", { "data-label": "Version", class: "number" }, String(product.version)),
    cell("Updated", time(product.updated_at)));
}

function table(items, number) {
  return h("div", { class: "table-wrap" },
    h("table", { class: "products" },
      h("caption", {}, `Products, page ${number}`),
      h("thead", {}, h("tr", {}, COLUMNS.map((c) =>
        h("th", { scope: "col", class: ["Price", "Quantity", "Version"].includes(c) ? "number" : null }, c)))),
      h("tbody", {}, items.map(row))));
}

function pager(limit, number, nextCursor, navigate) {
  const links = [];
  if (number > 1) {
    links.push(h("a", { href: pageHash(limit, 1) }, "First page"));
    const previous = number === 2 ? null : cursors.get(`${limit}:${number - 1}`);
    if (number === 2 || previous) links.push(h("a", { href: pageHash(limit, number - 1, previous), rel: "prev" }, "Previous page"));
  }
  if (nextCursor) links.push(h("a", { href: pageHash(limit, number + 1, nextCursor), rel: "next" }, "Next page"));
  const select = h("select", { id: "page-size" }, SIZES.map((n) => h("option", { value: String(n), selected: n === limit }, String(n))));
  select.addEventListener("change", () => navigate(pageHash(Number(select.value), 1)));
  return h("div", { class: "pager" },
    h("nav", { "aria-label": "Pages" }, h("ul", {}, links.map((a) => h("li", {}, a)))),
    h("div", { class: "page-size" }, h("label", { for: "page-size" }, "Products per page"), select));
}

export default {
  auth: true,
  async render(view, { query, signal, navigate }) {
    const { limit, cursor, number } = readQuery(query);
    const alert = alertBox();
    const status = h("p", { role: "status" }, "Loading products…");
    const titleRow = h("div", { class: "title-row" }, heading("Products"));
    append(view, titleRow, takeFlash(), alert.element, status);
    let body;
    let me;
    try {
      [{ body }, me] = await Promise.all([products.page({ limit, cursor }, { signal }), whoami()]);
    } catch (error) {
      if (error.name === "AbortError") throw error;
      status.remove();
      showProblem(error, alert, {}, cursor ? h("p", {}, h("a", { href: pageHash(limit, 1) }, "Back to the first page")) : null);
      return;
    }
    cursors.set(`${limit}:${number}`, cursor);
    // Viewers read; editors and admins also change (the API would refuse them with 403).
    const editor = allowed(me, "products:write");
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
    append(view, table(body.items, number), pager(limit, number, body.next_cursor, navigate));
  },
};
