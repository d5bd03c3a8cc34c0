// API keys: long secrets a script sends instead of signing in. Your own (made with a fresh
// proof), and the widgets the administration's service accounts share: the key's fields,
// the key shown once, the list with its revoke buttons.
import { auth } from "../api.js";
import { confirmDialog } from "../dialog.js";
import { session } from "../session.js";
import { alertBox, append, cell, checkboxes, field, flash, h, heading, load, sendingForm, table, takeFlash, time, uid } from "../ui.js";
import { accountNav } from "./account.js";
import { shownOnce } from "./codes.js";
import { proofFields } from "./proof.js";

/** The scopes a key may carry, and what each allows (as the API reference says). */
export const SCOPES = {
  "products:read": "read products, their history and stock",
  "products:write": "change products (and read them)",
  "stock:write": "record stock movements",
  "reservations:write": "make, commit and release reservations",
  "events:read": "read the security log of the account",
};

const LIFETIMES = [["7 days", 7], ["30 days", 30], ["90 days", 90], ["1 year", 365]];

/** The scopes as checkboxes; products:read ticked at first. */
function scopeField() {
  return checkboxes({
    name: "scopes",
    legend: "What the key may do",
    class: "scopes",
    options: Object.entries(SCOPES).map(([scope, about]) => [scope, [h("code", {}, scope), `: ${about}`]]),
    checked: (scope) => scope === "products:read",
  });
}

/**
 * The fields of a new key, keyed by the API's names. `values()` is the API's body:
 * `{name, scopes, expires_in}` (the lifetime in seconds).
 */
export function keyFields() {
  const name = field({ name: "name", label: "Name of the key", autocomplete: "off", required: true, maxlength: "100",
    hint: "What uses it, 1 to 100 characters: “Storefront”, “Nightly price sync”." });
  const scopes = scopeField();
  const lifeId = uid("expires_in");
  const life = h("select", { id: lifeId, name: "expires_in" },
    LIFETIMES.map(([label, days]) => h("option", { value: String(days * 86400), selected: days === 90 }, label)));
  const lifeError = h("p", { class: "field-error", id: `${lifeId}-error`, hidden: true });
  life.setAttribute("aria-describedby", `${lifeId}-error`);
  const expires = {
    element: h("div", { class: "field" }, h("label", { for: lifeId }, "Valid for"), lifeError, life),
    input: life,
    showErrors(messages) {
      lifeError.replaceChildren(messages.join(" "));
      lifeError.hidden = false;
    },
    clear() {
      lifeError.hidden = true;
    },
  };
  return {
    fields: { name, scopes, expires_in: expires },
    elements: [name.element, scopes.element, expires.element],
    values: () => ({ name: name.input.value.trim(), scopes: scopes.values(), expires_in: Number(life.value) }),
  };
}

/** The key just made, shown once: copy, download, and a tick before leaving. */
export function showKey(view, body, { owner, back, onLeave, navigate }) {
  const { shown, form } = shownOnce({
    codes: [body.key],
    about: ["This is the key “", body.name, "” of ", owner, ", valid until ", time(body.expires_at),
      ". It is shown only now: store it where the program that uses it reads its secrets. Lists show only its start, ",
      h("code", {}, body.prefix), "."],
    copy: true,
    file: {
      filename: `shop-api-key-${body.prefix}.txt`,
      lines: [`API key “${body.name}” of ${owner} for the Shop API (${location.origin}), scopes ${body.scopes.join(", ")}.`,
        "Send it as the header  Authorization: Bearer <key>"],
    },
    keep: {
      label: "I have stored the key",
      submitLabel: "Done",
      question: "The key is shown only once. Leave without storing it?",
      unticked: "Tick the box once the key is stored.",
      onLeave,
      done: () => {
        flash(`The key “${body.name}” is ready to use.`);
        navigate(back);
      },
    },
  });
  view.replaceChildren(heading("Your new API key"), ...shown, form);
  view.querySelector("h1").focus();
}

/** The live keys as a table; `revoke(key)` ends one, after the confirm dialog. */
export function keyTable(items, { revoke, caption }) {
  if (!items.length) return h("p", {}, "No API keys.");
  const never = () => h("span", { class: "none" }, "never");
  const row = (k) => {
    const button = h("button", { type: "button", class: "danger", "data-key": k.id },
      "Revoke…", h("span", { class: "visually-hidden" }, ` the key ${k.name}`));
    button.addEventListener("click", () => confirmDialog({
      title: `Revoke the key “${k.name}”?`,
      text: "Whatever uses it is refused from its very next request. This cannot be undone: a new key must be made.",
      yesLabel: "Revoke key",
      action: () => revoke(k),
    }));
    return h("tr", { "data-key": k.id },
      cell("Name", k.name),
      cell("Starts with", h("code", {}, k.prefix)),
      cell("Scopes", k.scopes.join(", ")),
      cell("Created", time(k.created_at)),
      cell("Expires", time(k.expires_at)),
      cell("Last used", k.last_used_at ? [time(k.last_used_at), k.last_used_ip ? ` from ${k.last_used_ip}` : ""] : never()),
      h("td", {}, button));
  };
  return table({
    class: "cards api-keys",
    caption,
    columns: ["Name", "Starts with", "Scopes", "Created", "Expires", "Last used", h("span", { class: "visually-hidden" }, "Action")],
    rows: items.map(row),
  });
}

/** Revoke a key; one already gone counts as revoked. */
export async function revoked(task, name) {
  try {
    await task();
    flash(`The key “${name}” is revoked: it is refused from now on.`);
  } catch (error) {
    if (error.status !== 404) throw error;
    flash("That key had already been revoked.");
  }
}

const INTRO = "A key lets a program (a storefront, a price sync) use the API as you, within the scopes you give it, with no password or code. The role of your account still applies at every request.";

export const list = {
  auth: true,
  async render(view, { signal, refresh }) {
    const alert = alertBox();
    append(view, heading("API keys"), accountNav(), takeFlash(), alert.element, h("p", {}, INTRO));
    const answer = await load(auth.apiKeys({ signal }), alert);
    if (!answer) return;
    const { items } = answer.body;
    append(view,
      keyTable(items, {
        caption: `${items.length} live key${items.length === 1 ? "" : "s"}`,
        revoke: async (k) => {
          await revoked(() => auth.revokeApiKey(k.id), k.name);
          refresh();
        },
      }),
      h("p", {}, h("a", { class: "button", href: "#/account/api-keys/new" }, "Create an API key")));
  },
};

export const add = {
  auth: true,
  keepsInput: true,
  render(view, { navigate, onLeave }) {
    const key = keyFields();
    const proof = proofFields();
    const { form } = sendingForm({
      submitLabel: "Create key",
      fields: { ...key.fields, ...proof.fields },
      content: [key.elements, proof.elements],
      send: async () => {
        const { body } = await auth.createApiKey(key.values(), proof.values());
        proof.clearCode();
        showKey(view, body, { owner: session.user?.username || "your account", back: "#/account/api-keys", onLeave, navigate });
      },
    });
    append(view, h("p", { class: "breadcrumbs" }, h("a", { href: "#/account/api-keys" }, "API keys")),
      heading("Create an API key"), accountNav(), h("p", {}, INTRO), form);
  },
};
