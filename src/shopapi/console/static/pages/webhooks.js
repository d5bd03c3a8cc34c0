// Webhooks (admins only): the endpoints other systems are told about changes at, each with
// its signing secret (shown once) and its deliveries, which an admin may send again.
import { webhooks } from "../api.js";
import { confirmDialog } from "../dialog.js";
import {
  alertBox, append, busy, cell, checkboxes, clearProblem, details, field, flash, h, heading, load, numberCell, pager,
  sendingForm, show, showProblem, statusFilter, table, time, uid,
} from "../ui.js";
import { frame } from "./admin.js";
import { shownOnce } from "./codes.js";

/** The event types of the API's Webhooks section, and when each is sent. */
export const EVENT_TYPES = {
  "product.created": "a product is created",
  "product.updated": "a product changes (also by a stock movement, a sale or an import)",
  "product.deleted": "a product is deleted",
  "stock.moved": "a stock movement is recorded",
  "reservation.held": "stock is held for a buyer",
  "reservation.committed": "a reservation is committed (sold)",
  "reservation.released": "a reservation is released",
};
export const STATUSES = { pending: "Pending", delivered: "Delivered", failed: "Failed" };
const LIMIT = 25;
const LIST = "#/admin/webhooks";
const SECRETS_FILE_NOTE = "Verify each delivery's webhook-signature header with it (Standard Webhooks).";

/** The fields of an endpoint, keyed by the API's names; `values()` is the API's body. */
function endpointFields(endpoint = null) {
  const url = field({ name: "url", label: "URL", type: "url", value: endpoint?.url ?? "", required: true,
    autocomplete: "off", maxlength: "2048",
    hint: "Where deliveries are POSTed, such as https://erp.example.com/hooks/shop. It must reach the internet: addresses of this network are refused." });
  const wanted = new Set(endpoint?.events ?? []);
  const events = checkboxes({
    name: "events",
    legend: "Events to send (at least one)",
    class: "events",
    options: Object.entries(EVENT_TYPES).map(([type, when]) => [type, [h("code", {}, type), `: ${when}`]]),
    checked: (type) => wanted.has(type),
  });
  const description = field({ name: "description", label: "Description", value: endpoint?.description ?? "",
    autocomplete: "off", maxlength: "255", hint: "For people: what receives it, who to ask about it. Optional." });
  return {
    fields: { url, events, description },
    elements: [url.element, events.element, description.element],
    values: () => ({
      url: url.input.value.trim(),
      events: events.values(),
      description: description.input.value.trim() || null,
    }),
  };
}

/** The secret just made, shown once: copy, download, and a tick before `done()`. */
function showSecret(view, body, { title, about, onLeave, done }) {
  const { shown, form } = shownOnce({
    codes: [body.secret],
    about,
    copy: true,
    file: {
      filename: `shop-webhook-${body.id}-secret.txt`,
      lines: [`Signing secret of webhook endpoint ${body.id} (${body.url}) of the Shop API (${location.origin}).`,
        SECRETS_FILE_NOTE],
    },
    keep: {
      label: "I have stored the secret",
      submitLabel: "Done",
      question: "The secret is shown only once. Leave without storing it?",
      unticked: "Tick the box once the secret is stored.",
      onLeave,
      done,
    },
  });
  view.replaceChildren(heading(title), ...shown, form);
  view.querySelector("h1").focus();
}

function state(endpoint) {
  return endpoint.enabled ? "enabled" : "disabled: no new deliveries; pending ones wait";
}

export const list = {
  auth: true,
  async render(view, { query, signal }) {
    const alert = alertBox();
    if (!(await frame(view, "Webhooks", alert))) return;
    append(view, h("p", {}, "Other systems (an ERP, a storefront's cache) are told about changes here: each endpoint gets a signed POST for every event it wants, retried until it answers 2xx."));
    const cursor = query.get("cursor");
    const answer = await load(webhooks.page({ limit: LIMIT, cursor }, { signal }), alert);
    if (!answer) return;
    const { items, next_cursor: next } = answer.body;
    append(view,
      items.length
        ? table({
          class: "cards webhooks",
          caption: "Webhook endpoints, by id",
          columns: ["URL", "Events", "State", "Created"],
          rows: items.map((e) => h("tr", {},
            cell("URL", h("a", { href: `${LIST}/${e.id}` }, e.url)),
            cell("Events", e.events.join(", ")),
            cell("State", e.enabled ? "enabled" : "disabled"),
            cell("Created", time(e.created_at)))),
        })
        : h("p", {}, "No webhook endpoints."),
      pager({ cursor, nextCursor: next, hashFor: (c) => (c ? `${LIST}?${new URLSearchParams({ cursor: c })}` : LIST) }),
      h("p", {}, h("a", { class: "button", href: `${LIST}/new` }, "Add endpoint")));
  },
};

export const add = {
  auth: true,
  keepsInput: true,
  async render(view, { navigate, onLeave }) {
    const alert = alertBox();
    if (!(await frame(view, "Add a webhook endpoint", alert))) return;
    const endpoint = endpointFields();
    const { form } = sendingForm({
      submitLabel: "Add endpoint",
      fields: endpoint.fields,
      content: endpoint.elements,
      send: async () => {
        const { body } = await webhooks.create(endpoint.values());
        showSecret(view, body, {
          title: "The endpoint's signing secret",
          about: ["Deliveries to ", h("code", {}, body.url), " are signed with this secret; the receiver checks each signature with it. It is shown only now: store it where the receiver reads its secrets."],
          onLeave,
          done: () => {
            flash("The endpoint is added: it gets the events it wants from now on.");
            navigate(`${LIST}/${body.id}`);
          },
        });
      },
    });
    append(view, h("p", { class: "breadcrumbs" }, h("a", { href: LIST }, "All webhook endpoints")), form);
  },
};

function deliveriesHash(id, status, cursor) {
  const query = new URLSearchParams();
  if (status) query.set("status", status);
  if (cursor) query.set("cursor", cursor);
  return `${LIST}/${id}${query.size ? `?${query}` : ""}`;
}

/** The form that changes an endpoint: only what was changed is sent. */
function changeForm(endpoint, done) {
  const fields = endpointFields(endpoint);
  const enabledId = uid("enabled");
  const enabled = h("input", { type: "checkbox", id: enabledId, name: "enabled", checked: endpoint.enabled,
    "aria-describedby": `${enabledId}-hint` });
  const { form } = sendingForm({
    submitLabel: "Save changes",
    fields: fields.fields,
    content: [fields.elements, h("div", { class: "choice" }, enabled, h("label", { for: enabledId }, "Enabled")),
      h("p", { class: "hint", id: `${enabledId}-hint` }, "A disabled endpoint gets no new deliveries; its pending ones wait until it is enabled again.")],
    send: async () => {
      const typed = { ...fields.values(), enabled: enabled.checked };
      const changed = Object.fromEntries(Object.entries(typed).filter(([name, value]) =>
        JSON.stringify(value) !== JSON.stringify(endpoint[name])));
      await webhooks.change(endpoint.id, Object.keys(changed).length ? changed : typed);
      done("The endpoint is saved.");
    },
  });
  return form;
}

/** What the last attempt got: the receiver's status code, or why it failed. */
function lastResult(delivery) {
  const parts = [delivery.last_status_code, delivery.last_error].filter((p) => p !== null && p !== undefined);
  return parts.length ? parts.join(": ") : show(null);
}

/** The deliveries of an endpoint, newest first, with a status filter and Retry now. */
async function deliveries(view, endpoint, { query, signal, navigate, refresh }) {
  const cursor = query.get("cursor");
  const status = STATUSES[query.get("status")] ? query.get("status") : "";
  const alert = alertBox();
  const filters = statusFilter(STATUSES, status, (chosen) => navigate(deliveriesHash(endpoint.id, chosen)));
  append(view, h("h2", {}, "Deliveries"), alert.element,
    h("p", {}, "Each event sent to this endpoint, newest first: a failed attempt is retried with growing delays; ",
      h("strong", {}, "Retry now"), " sends it again at once, also one that ended."),
    filters);
  const answer = await load(webhooks.deliveries(endpoint.id, { limit: LIMIT, cursor, status }, { signal }), alert);
  if (!answer) return;
  const { items, next_cursor: next } = answer.body;
  const retry = (d) => {
    const button = h("button", { type: "button", class: "secondary" },
      "Retry now", h("span", { class: "visually-hidden" }, ` delivery ${d.id}`));
    button.addEventListener("click", () => busy(button, async () => {
      clearProblem(alert);
      try {
        await webhooks.retry(endpoint.id, d.id);
      } catch (error) {
        showProblem(error, alert);
        return;
      }
      flash(`Delivery ${d.id} is sent again shortly.`);
      refresh();
    }));
    return button;
  };
  append(view,
    items.length
      ? table({
        class: "cards deliveries",
        caption: status ? `${STATUSES[status]} deliveries` : "Deliveries",
        columns: ["Delivery", "Event", "Status", { label: "Attempts", class: "number" }, "Last result", "Next attempt",
          "Created", h("span", { class: "visually-hidden" }, "Action")],
        rows: items.map((d) => h("tr", { "data-delivery": d.id },
          cell("Delivery", String(d.id)),
          cell("Event", h("code", {}, d.type)),
          cell("Status", STATUSES[d.status] || d.status),
          numberCell("Attempts", d.attempts),
          cell("Last result", lastResult(d)),
          cell("Next attempt", d.next_attempt_at ? time(d.next_attempt_at) : show(null)),
          cell("Created", time(d.created_at)),
          h("td", {}, retry(d)))),
      })
      : h("p", {}, status ? `No ${status} deliveries.` : "No deliveries yet."),
    pager({ cursor, nextCursor: next, hashFor: (c) => deliveriesHash(endpoint.id, status, c),
      labels: { first: "Newest deliveries", next: "Older deliveries" } }));
}

export const one = {
  auth: true,
  keepsInput: true,
  async render(view, context) {
    const { params, signal, navigate, refresh, onLeave } = context;
    const alert = alertBox();
    if (!(await frame(view, `Webhook endpoint ${params.id}`, alert))) return;
    const answer = await load(webhooks.get(params.id, { signal }), alert);
    if (!answer) return;
    const endpoint = answer.body;
    const done = (message) => {
      flash(message);
      refresh();
    };

    const rotate = h("button", { type: "button", class: "secondary" }, "Rotate secret…");
    rotate.addEventListener("click", () => confirmDialog({
      title: "Rotate the signing secret?",
      text: "A new secret is made and shown once. For 24 hours deliveries carry signatures with both, so the receiver can switch over; then only the new one signs.",
      yesLabel: "Rotate secret",
      action: async () => {
        const { body } = await webhooks.rotateSecret(endpoint.id);
        showSecret(view, body, {
          title: "The endpoint's new signing secret",
          about: ["Give this secret to the receiver at ", h("code", {}, body.url),
            " within 24 hours: until then deliveries are signed with the old secret and this one. It is shown only now."],
          onLeave,
          done: () => done("The secret is rotated."),
        });
      },
    }));
    const remove = h("button", { type: "button", class: "danger" }, "Delete endpoint…");
    remove.addEventListener("click", () => confirmDialog({
      title: "Delete this webhook endpoint?",
      text: `Nothing more is sent to ${endpoint.url}, and its deliveries are deleted with it. This cannot be undone.`,
      yesLabel: "Delete endpoint",
      action: async () => {
        try {
          await webhooks.remove(endpoint.id);
        } catch (error) {
          if (error.status !== 404) throw error;
        }
        flash("The webhook endpoint is deleted.");
        navigate(LIST);
      },
    }));

    const sent = h("div", {}); // the deliveries, once they are read
    append(view,
      h("p", { class: "breadcrumbs" }, h("a", { href: LIST }, "All webhook endpoints")),
      details(["URL", endpoint.url], ["Events", endpoint.events.join(", ")], ["Description", show(endpoint.description)],
        ["State", state(endpoint)], ["Created", time(endpoint.created_at)], ["Id", String(endpoint.id)]),
      sent,
      h("h2", {}, "Change"), changeForm(endpoint, done),
      h("h2", {}, "Signing secret"),
      h("p", {}, "Shown only when the endpoint was added or its secret rotated. Rotate it when it may have leaked."),
      h("div", { class: "actions" }, rotate),
      h("h2", {}, "Delete"),
      h("p", {}, "To stop deliveries for a while, untick Enabled above instead: pending deliveries then wait."),
      h("div", { class: "actions" }, remove));
    await deliveries(sent, endpoint, context);
  },
};
