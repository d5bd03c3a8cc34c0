// Every change of a product, oldest first, also after it was deleted.
import { products } from "../api.js";
import { session } from "../session.js";
import { alertBox, append, h, heading, load, show, time } from "../ui.js";

const ACTIONS = { create: "Created", update: "Updated", delete: "Deleted" };

function who(userId) {
  if (userId === null || userId === undefined) return "the service (imported data)";
  if (session.user && session.user.id === userId) return `you (user ${userId})`;
  return `user ${userId}`;
}

function change(action, name, [before, after]) {
  // A create has nothing before and a delete nothing after: show only what there is.
  let text;
  if (action === "create") text = [show(after)];
  else if (action === "delete") text = [h("del", {}, show(before))];
  else {
    text = [show(before), h("span", { "aria-hidden": "true" }, " → "),
      h("span", { class: "visually-hidden" }, " changed to "), h("ins", {}, show(after))];
  }
  return [h("dt", {}, name), h("dd", {}, ...text)];
}

function entry(item) {
  const changes = Object.entries(item.changes || {});
  return h("li", { class: "history-entry" },
    h("h2", {}, `Version ${item.version}: ${ACTIONS[item.action] || item.action}`),
    h("p", { class: "meta" }, time(item.at), ` by ${who(item.user_id)}`),
    changes.length ? h("dl", { class: "changes" }, changes.map(([name, pair]) => change(item.action, name, pair))) : null);
}

/** The product's name as the history last knew it. */
function lastName(items) {
  for (const item of [...items].reverse()) {
    const pair = item.changes?.name;
    if (pair && (pair[1] ?? pair[0])) return pair[1] ?? pair[0];
  }
  return null;
}

export default {
  auth: true,
  async render(view, { params, signal }) {
    const id = params.id;
    const alert = alertBox();
    const title = heading(`History of product ${id}`);
    append(view, 
      h("p", { class: "breadcrumbs" }, h("a", { href: "#/products" }, "Products"), " › ",
        h("a", { href: `#/products/${id}` }, `Product ${id}`)),
      title, alert.element);
    const answer = await load(products.history(id, { signal }), alert);
    if (!answer) return;
    const { items } = answer.body;
    const name = lastName(items);
    if (name) title.textContent = `History of “${name}”`;
    const deleted = items.at(-1)?.action === "delete";
    append(view, 
      deleted ? h("p", { class: "flash" }, "This product has been deleted; its history stays.") : null,
      h("ol", { class: "history" }, items.map(entry)));
  },
};
