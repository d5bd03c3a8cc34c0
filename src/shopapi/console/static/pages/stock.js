// A product's stock: how much there is, how much reservations hold, the movements that
// made it so, and (for editors) forms to record a movement or hold stock for a buyer.
import { newKey, products, reservations, stock, whoami } from "../api.js";
import { can } from "../roles.js";
import { alertBox, append, cell, field, flash, h, heading, load, numberCell, pager, sendingForm, show, table, takeFlash, time, uid } from "../ui.js";

export const REASONS = {
  received: "Received",
  sold: "Sold",
  returned: "Returned",
  damaged: "Damaged",
  lost: "Lost",
  correction: "Correction",
  initial: "Initial stock",
};
// The reasons a person records; `initial` is the service's own, at creation.
const RECORDED = ["received", "returned", "sold", "damaged", "lost", "correction"];
const LIMIT = 25;

function signed(delta) {
  return delta > 0 ? `+${delta}` : String(delta);
}

function who(movement) {
  if (movement.user_id === null || movement.user_id === undefined) return "the service";
  const key = movement.api_key_id ? ` with API key ${movement.api_key_id}` : "";
  return `user ${movement.user_id}${key}`;
}

function movementTable(items, caption) {
  return table({
    class: "cards movements",
    caption,
    columns: ["When", { label: "Change", class: "number" }, "Reason", "Note", { label: "Quantity after", class: "number" }, "By"],
    rows: items.map((m) => h("tr", {},
      cell("When", time(m.at)),
      numberCell("Change", signed(m.delta)),
      cell("Reason", REASONS[m.reason] || m.reason),
      cell("Note", show(m.note)),
      numberCell("Quantity after", m.quantity_after),
      cell("By", who(m)))),
  });
}

/** The integer typed in `input`, or null when it is not one (the API then explains). */
function integer(text) {
  const value = text.trim();
  return /^[+-]?[0-9]{1,10}$/.test(value) ? Number(value) : value;
}

/** A movement form; each new set of values gets its own Idempotency-Key. */
function movementForm(product, refresh) {
  const delta = field({ name: "delta", label: "Change", required: true, inputmode: "numeric",
    hint: "How many came in (12) or went out (-2); not 0." });
  const reasonId = uid("reason");
  const reason = h("select", { id: reasonId, name: "reason" },
    RECORDED.map((r) => h("option", { value: r }, REASONS[r])));
  const note = field({ name: "note", label: "Note", hint: "Optional, up to 255 characters: a delivery note, an order number." });
  let key = null;
  let sent = null;
  const { form } = sendingForm({
    submitLabel: "Record movement",
    fields: { delta, note },
    content: [h("h2", {}, "Record a movement"), delta.element,
      h("div", { class: "field" }, h("label", { for: reasonId }, "Reason"), reason), note.element],
    extra: (error) => (error.status === 409 && error.problem.available !== undefined
      ? h("p", {}, `Available now: ${error.problem.available}.`) : null),
    send: async () => {
      const body = { delta: integer(delta.input.value), reason: reason.value };
      if (note.input.value.trim()) body.note = note.input.value.trim();
      const text = JSON.stringify(body);
      if (text !== sent) {
        key = newKey();
        sent = text;
      }
      const { body: movement } = await stock.move(product.id, body, key);
      flash(`Recorded ${signed(movement.delta)} (${REASONS[movement.reason]}). Quantity now ${movement.quantity_after}.`);
      refresh();
    },
  });
  return form;
}

/** A form to hold some of this product for a buyer: a reservation of one item. */
function holdForm(product, navigate) {
  const quantity = field({ name: "quantity", label: "Quantity to hold", required: true, inputmode: "numeric" });
  const minutes = field({ name: "expires_in", label: "Hold for (minutes)", value: "15", inputmode: "numeric",
    hint: "1 to 60 minutes; the hold ends by itself then." });
  const note = field({ name: "note", label: "Note", hint: "Optional: who it is for." });
  let key = null;
  let sent = null;
  const { form } = sendingForm({
    submitLabel: "Hold stock",
    // The API names the item's fields by their place in the basket.
    fields: { "items[0].quantity": quantity, "items.0.quantity": quantity, expires_in: minutes, note },
    content: [h("h2", {}, "Hold stock for a buyer"), quantity.element, minutes.element, note.element],
    extra: (error) => {
      const shortages = error.problem?.shortages;
      return shortages?.length ? h("p", {}, `Only ${shortages[0].available} available.`) : null;
    },
    send: async () => {
      const mins = integer(minutes.input.value);
      const body = {
        items: [{ product_id: product.id, quantity: integer(quantity.input.value) }],
        expires_in: typeof mins === "number" ? mins * 60 : mins,
      };
      if (note.input.value.trim()) body.note = note.input.value.trim();
      const text = JSON.stringify(body);
      if (text !== sent) {
        key = newKey();
        sent = text;
      }
      const { body: reservation } = await reservations.create(body, key);
      flash(`Holding ${body.items[0].quantity} of “${product.name}” until ${reservation.expires_at.replace("T", " ").replace("Z", " UTC")}.`);
      navigate(`#/reservations/${reservation.id}`);
    },
  });
  return form;
}

export default {
  auth: true,
  async render(view, { params, query, signal, navigate, refresh }) {
    const id = params.id;
    const cursor = query.get("cursor");
    const alert = alertBox();
    const title = heading(`Stock of product ${id}`);
    append(view,
      h("p", { class: "breadcrumbs" }, h("a", { href: "#/products" }, "Products"), " › ",
        h("a", { href: `#/products/${id}` }, `Product ${id}`)),
      title, takeFlash(), alert.element);
    const [answer, moves] = await load(Promise.all([
      products.get(id, { signal }).catch((error) => (error.status === 404 ? null : Promise.reject(error))),
      stock.movements(id, { limit: LIMIT, cursor }, { signal }),
      whoami(),
    ]), alert) ?? [];
    if (!moves) return;
    const product = answer?.body ?? null;
    if (product) {
      title.textContent = `Stock of “${product.name}”`;
      document.title = `Stock of ${product.name} - Shop console`;
      append(view, stockFigures(product));
    } else {
      append(view, h("p", { class: "flash" }, "This product has been deleted; its movements stay."));
    }
    if (product && can("move stock")) {
      append(view, h("div", { class: "forms" }, movementForm(product, refresh), can("hold stock") ? holdForm(product, navigate) : null));
    }
    const hashFor = (c) => (c ? `#/products/${id}/stock?${new URLSearchParams({ cursor: c })}` : `#/products/${id}/stock`);
    const { items, next_cursor: next } = moves.body;
    append(view,
      h("h2", {}, "Movements"),
      items.length ? movementTable(items, cursor ? "Older movements" : "Latest movements, newest first") : h("p", {}, "No movements."),
      pager({ cursor, nextCursor: next, hashFor, labels: { first: "Newest movements", next: "Older movements" } }));
  },
};

function stockFigures(product) {
  const held = product.quantity - product.available;
  return h("dl", { class: "details stock" },
    h("dt", {}, "Quantity"), h("dd", {}, String(product.quantity)),
    h("dt", {}, "Available"), h("dd", {}, String(product.available)),
    h("dt", {}, "Held by reservations"), h("dd", {}, String(held > 0 ? held : 0)));
}
