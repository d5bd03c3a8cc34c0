// Reservations: stock held for buyers. The list (by status) and one reservation, which its
// maker or an admin commits (the items are sold) or releases (the stock is free again).
import { reservations, whoami } from "../api.js";
import { confirmDialog } from "../dialog.js";
import { alertBox, append, cell, details, flash, h, heading, load, numberCell, pager, show, statusFilter, table, takeFlash, time } from "../ui.js";

export const STATUSES = {
  held: "Held",
  committed: "Committed (sold)",
  released: "Released",
  expired: "Expired",
};
const LIMIT = 25;

function units(items) {
  const total = items.reduce((sum, item) => sum + item.quantity, 0);
  const lines = `${items.length} product${items.length === 1 ? "" : "s"}`;
  return `${lines}, ${total} unit${total === 1 ? "" : "s"}`;
}

function listHash(status, cursor) {
  const query = new URLSearchParams();
  if (status) query.set("status", status);
  if (cursor) query.set("cursor", cursor);
  return `#/reservations${query.size ? `?${query}` : ""}`;
}

export const list = {
  auth: true,
  async render(view, { query, signal, navigate }) {
    const cursor = query.get("cursor");
    const status = STATUSES[query.get("status")] ? query.get("status") : "";
    const alert = alertBox();
    const filters = statusFilter(STATUSES, status, (chosen) => navigate(listHash(chosen)));
    append(view, heading("Reservations"), takeFlash(), alert.element,
      h("p", {}, "Stock your account holds for buyers, newest first. Hold stock from a product's stock page."),
      filters);
    const answer = await load(reservations.page({ limit: LIMIT, cursor, status }, { signal }), alert, {
      extra: () => (cursor ? h("p", {}, h("a", { href: listHash(status) }, "Back to the newest reservations")) : null),
    });
    if (!answer) return;
    const { items, next_cursor: next } = answer.body;
    append(view,
      items.length
        ? table({
          class: "cards reservations",
          caption: status ? `${STATUSES[status]} reservations` : "Reservations",
          columns: ["Reservation", "Status", "Items", "Expires", "Made", "Note"],
          rows: items.map((r) => h("tr", {},
            cell("Reservation", h("a", { href: `#/reservations/${r.id}` }, `Reservation ${r.id}`)),
            cell("Status", STATUSES[r.status] || r.status),
            cell("Items", units(r.items)),
            cell("Expires", time(r.expires_at)),
            cell("Made", time(r.created_at)),
            cell("Note", show(r.note)))),
        })
        : h("p", {}, "No reservations."),
      pager({ cursor, nextCursor: next, hashFor: (c) => listHash(status, c), labels: { first: "Newest reservations", next: "Older reservations" } }));
  },
};

function act(reservation, { refresh }, alert) {
  const commit = h("button", { type: "button" }, "Commit (sell)…");
  const release = h("button", { type: "button", class: "danger" }, "Release…");
  const run = (work, done) => async () => {
    try {
      await work();
    } catch (error) {
      if (error.status !== 409) throw error;
      alert.show(h("p", {}, error.message));
      return;
    }
    flash(done);
    refresh();
  };
  commit.addEventListener("click", () => confirmDialog({
    title: `Commit reservation ${reservation.id}?`,
    text: `Its ${units(reservation.items)} are sold: each becomes a stock movement, and the hold ends.`,
    yesLabel: "Commit",
    action: run(() => reservations.commit(reservation.id), `Reservation ${reservation.id} committed: its items are sold.`),
  }));
  release.addEventListener("click", () => confirmDialog({
    title: `Release reservation ${reservation.id}?`,
    text: "The stock it holds is available to others again. Nothing is sold.",
    yesLabel: "Release",
    action: run(() => reservations.release(reservation.id), `Reservation ${reservation.id} released.`),
  }));
  return h("div", { class: "actions" }, commit, release);
}

export const one = {
  auth: true,
  async render(view, context) {
    const { params, signal } = context;
    const alert = alertBox();
    append(view,
      h("p", { class: "breadcrumbs" }, h("a", { href: "#/reservations" }, "Reservations")),
      heading(`Reservation ${params.id}`), takeFlash(), alert.element);
    const [answer] = await load(Promise.all([reservations.get(params.id, { signal }), whoami()]), alert) ?? [];
    if (!answer) return;
    const r = answer.body;
    const by = r.user_id === null ? show(null) : `user ${r.user_id}${r.api_key_id ? ` with API key ${r.api_key_id}` : ""}`;
    append(view,
      details(
        ["Status", STATUSES[r.status] || r.status],
        ["Expires", time(r.expires_at)],
        ["Made", time(r.created_at)],
        ["By", by],
        ["Note", show(r.note)]),
      table({
        class: "reservation-items",
        caption: "Items",
        columns: ["Product", { label: "Quantity", class: "number" }],
        rows: r.items.map((item) => h("tr", {},
          cell("Product", h("a", { href: `#/products/${item.product_id}/stock` }, `Product ${item.product_id}`)),
          numberCell("Quantity", item.quantity))),
      }),
      r.status === "held" ? act(r, context, alert) : null);
  },
};
