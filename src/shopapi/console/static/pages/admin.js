// Administration (admins only): accounts, invites, the security log of every account;
// the frame and sub-navigation the webhooks pages share.
import { admin, whoami } from "../api.js";
import { confirmDialog } from "../dialog.js";
import { ROLES, can } from "../roles.js";
import {
  alertBox, append, busy, cell, clearProblem, details, field, flash, h, heading, load, pager, sendingForm, showProblem,
  table, takeFlash, time, uid,
} from "../ui.js";
import { keyFields, keyTable, revoked, showKey } from "./api-keys.js";
import { shownOnce } from "./codes.js";
import { EVENT_TYPES, eventTable, olderNewer } from "./security-log.js";

const LIMIT = 25;

export function adminNav() {
  const pages = [["Users", "#/admin/users"], ["Service accounts", "#/admin/service-accounts"], ["Invites", "#/admin/invites"],
    ["Webhooks", "#/admin/webhooks"], ["Security log", "#/admin/events"]];
  return h("nav", { "aria-label": "Administration", class: "subnav" },
    h("ul", {}, pages.map(([label, hash]) =>
      h("li", {}, h("a", { href: hash, "aria-current": here(hash) ? "page" : null }, label)))));
}

/** Whether the page shown is `hash` or one under it (an endpoint is under the webhooks). */
function here(hash) {
  const path = location.hash.split("?")[0];
  return path === hash || (hash === "#/admin/webhooks" && path.startsWith(`${hash}/`));
}

/** The page's frame; false (with a message) when the account is not an admin. */
export async function frame(view, title, alert) {
  append(view, heading(title), adminNav(), takeFlash(), alert.element);
  await whoami();
  if (can("administer")) return true;
  alert.show(h("p", {}, "Administration is for admins; your role does not include it."));
  return false;
}

function roleSelect(id, value) {
  return h("select", { id, name: "role" }, ROLES.map((r) => h("option", { value: r, selected: r === value }, r)));
}

const KINDS = { person: "person", service: "service account" };

function state(user) {
  const parts = [user.disabled ? "disabled" : "enabled"];
  if (user.locked) parts.push("locked");
  if (!user.totp_confirmed && user.kind !== "service") parts.push("authenticator not set up");
  return parts.join(", ");
}

export const users = {
  auth: true,
  async render(view, { query, signal }) {
    const alert = alertBox();
    if (!(await frame(view, "Users", alert))) return;
    const cursor = query.get("cursor");
    const answer = await load(admin.users({ limit: LIMIT, cursor }, { signal }), alert);
    if (!answer) return;
    const { body } = answer;
    append(view,
      table({
        class: "cards users",
        caption: "Accounts, by id",
        columns: ["Username", "Kind", "Role", "State", "Created", "Id"],
        rows: body.items.map((u) => h("tr", {},
          cell("Username", h("a", { href: `#/admin/users/${u.id}` }, u.username)),
          cell("Kind", KINDS[u.kind] ?? u.kind),
          cell("Role", u.role),
          cell("State", state(u)),
          cell("Created", time(u.created_at)),
          cell("Id", String(u.id)))),
      }),
      pager({
        cursor,
        nextCursor: body.next_cursor,
        hashFor: (c) => (c ? `#/admin/users?${new URLSearchParams({ cursor: c })}` : "#/admin/users"),
      }));
  },
};

export const user = {
  auth: true,
  async render(view, { params, signal, refresh }) {
    const alert = alertBox();
    if (!(await frame(view, `User ${params.id}`, alert))) return;
    const answer = await load(admin.user(params.id, { signal }), alert);
    if (!answer) return;
    const u = answer.body;
    view.querySelector("h1").textContent = u.username;
    document.title = `${u.username} - Shop console`;
    const done = (message) => {
      flash(message);
      refresh();
    };

    const roleId = uid("role");
    const select = roleSelect(roleId, u.role);
    const { form: roleForm } = sendingForm({
      submitLabel: "Change role",
      content: h("div", { class: "field" }, h("label", { for: roleId }, "Role"),
        h("p", { class: "hint" }, "Viewers read products; editors also change them; admins also administer accounts. The change applies at the account's next request."),
        select),
      send: async () => {
        const { body } = await admin.change(u.id, { role: select.value });
        done(`${body.username} is now ${body.role}.`);
      },
    });

    const actionAlert = alertBox();
    const act = (label, cls, task) => {
      const button = h("button", { type: "button", class: cls }, label);
      button.addEventListener("click", () => busy(button, async () => {
        clearProblem(actionAlert);
        try {
          await task();
        } catch (error) {
          showProblem(error, actionAlert);
        }
      }));
      return button;
    };
    const toggle = u.disabled
      ? act("Enable account", "secondary", async () => {
        await admin.change(u.id, { disabled: false });
        done(`${u.username} can sign in again.`);
      })
      : act("Disable account", "danger", async () => {
        await admin.change(u.id, { disabled: true });
        done(`${u.username} is disabled and signed out everywhere.`);
      });
    const unlock = act("Unlock", "secondary", async () => {
      await admin.unlock(u.id);
      done(`${u.username}'s failed attempts are forgotten; the account may sign in again.`);
    });
    const reset = h("button", { type: "button", class: "danger" }, "Reset authenticator…");
    reset.addEventListener("click", () => confirmDialog({
      title: `Reset the authenticator of ${u.username}?`,
      text: "The account gets a new authenticator key (shown at its next sign-in with the password), loses its recovery codes, and every session ends.",
      yesLabel: "Reset authenticator",
      action: async () => {
        await admin.resetTotp(u.id);
        done(`${u.username}'s authenticator is reset; the account sets up a new one at its next sign-in.`);
      },
    }));

    const service = u.kind === "service";
    append(view,
      h("p", { class: "breadcrumbs" }, h("a", { href: "#/admin/users" }, "All users")),
      details(["Username", u.username], ["Kind", KINDS[u.kind] ?? u.kind], ["Role", u.role], ["State", state(u)],
        ["Created", time(u.created_at)], ["Id", String(u.id)]),
      h("h2", {}, "Role"), roleForm,
      h("h2", {}, "Access"), actionAlert.element,
      h("div", { class: "actions" }, toggle, u.locked ? unlock : null, service ? null : reset),
      h("p", {}, h("a", { href: `#/admin/events?${new URLSearchParams({ user_id: String(u.id) })}` }, `Security log of ${u.username}`)));

    const keysAlert = alertBox();
    append(view, h("h2", {}, "API keys"), keysAlert.element,
      h("p", {}, service
        ? "The keys this service account's programs use. Revoke one that leaked or is no longer used."
        : "The keys this person made for their scripts. Revoke one that leaked; people make their own keys."));
    const keys = await load(admin.apiKeys(u.id, { signal }), keysAlert);
    if (!keys) return;
    const { items } = keys.body;
    append(view,
      keyTable(items, {
        caption: `${items.length} live key${items.length === 1 ? "" : "s"} of ${u.username}`,
        revoke: async (k) => {
          await revoked(() => admin.revokeApiKey(u.id, k.id), k.name);
          refresh();
        },
      }),
      service ? h("p", {}, h("a", { class: "button", href: `#/admin/users/${u.id}/api-keys/new` }, "New API key")) : null);
  },
};

/** Service accounts: accounts of programs, listed with the users; made here by name and role. */
export const serviceAccounts = {
  auth: true,
  keepsInput: true,
  async render(view, { navigate }) {
    const alert = alertBox();
    if (!(await frame(view, "Service accounts", alert))) return;
    const username = field({ name: "username", label: "Username", autocomplete: "off", required: true,
      hint: "What it is for: “storefront”, “erp-sync”." });
    const roleId = uid("role");
    const role = h("select", { id: roleId, name: "role" }, ["viewer", "editor"].map((r) => h("option", { value: r }, r)));
    const { form } = sendingForm({
      submitLabel: "Create service account",
      fields: { username },
      content: [username.element, h("div", { class: "field" }, h("label", { for: roleId }, "Role"),
        h("p", { class: "hint" }, "Viewers read products; editors also change them. A service account is never an admin."), role)],
      send: async () => {
        const { body } = await admin.createServiceAccount(username.input.value.trim(), role.value);
        flash(`The service account ${body.username} is created: make its API keys below.`);
        navigate(`#/admin/users/${body.id}`);
      },
    });
    append(view,
      h("p", {}, "A service account belongs to a program (a storefront, an ERP), not to a person: it has no password, authenticator or session, and uses only the API keys an admin makes for it. It keeps working when the person who set it up leaves. Service accounts are listed with the ",
        h("a", { href: "#/admin/users" }, "users"), "."),
      form);
  },
};

/** A key for a service account, made by an admin (no proof: the admin is signed in). */
export const newKey = {
  auth: true,
  keepsInput: true,
  async render(view, { params, signal, navigate, onLeave }) {
    const alert = alertBox();
    if (!(await frame(view, "New API key", alert))) return;
    const answer = await load(admin.user(params.id, { signal }), alert);
    if (!answer) return;
    const u = answer.body;
    view.querySelector("h1").textContent = `New API key for ${u.username}`;
    const back = `#/admin/users/${u.id}`;
    const key = keyFields();
    const { form } = sendingForm({
      submitLabel: "Create key",
      fields: key.fields,
      content: key.elements,
      send: async () => {
        const { body } = await admin.createApiKey(u.id, key.values());
        showKey(view, body, { owner: u.username, back, onLeave, navigate });
      },
    });
    append(view, h("p", { class: "breadcrumbs" }, h("a", { href: back }, u.username)), form);
  },
};

export const invites = {
  auth: true,
  keepsInput: true,
  async render(view) {
    const alert = alertBox();
    if (!(await frame(view, "Invites", alert))) return;
    const roleId = uid("role");
    const role = roleSelect(roleId, "viewer");
    const days = field({ name: "expires_in", label: "Valid for (days)", value: "7", inputmode: "numeric", required: true,
      hint: "1 to 30 days." });
    const result = h("div", { role: "status" });
    const { form } = sendingForm({
      submitLabel: "Create invite",
      fields: { expires_in: days },
      content: [h("div", { class: "field" }, h("label", { for: roleId }, "Role of the new account"), role), days.element],
      send: async () => {
        result.replaceChildren();
        const typed = days.input.value.trim();
        // Days here, seconds in the API; anything else goes as typed, for the API to judge.
        const seconds = /^[0-9]{1,4}$/.test(typed) ? Number(typed) * 86400 : typed;
        const { body } = await admin.invite(role.value, seconds);
        const { shown } = shownOnce({
          codes: [body.code],
          about: [`Give this code to the person invited; it makes one ${body.role} account, until `, time(body.expires_at),
            ". It is shown only now."],
        });
        result.replaceChildren(h("h2", {}, "Invite created"), ...shown);
      },
    });
    append(view, h("p", {}, "An invite lets one person register, with the role you choose, also when registration is by invite only."),
      form, result);
  },
};

export const events = {
  auth: true,
  async render(view, { query, signal, navigate }) {
    const alert = alertBox();
    if (!(await frame(view, "Security log of all accounts", alert))) return;
    const cursor = query.get("cursor");
    const userId = query.get("user_id") || "";
    const type = query.get("type") || "";
    const who = field({ name: "user_id", label: "User id", value: userId, inputmode: "numeric", hint: "Empty: every account." });
    const typeId = uid("type");
    const types = h("select", { id: typeId, name: "type" }, h("option", { value: "" }, "every event"),
      Object.entries(EVENT_TYPES).map(([value, label]) => h("option", { value, selected: value === type }, label)));
    const apply = h("button", { type: "submit", class: "secondary" }, "Show");
    const filters = h("form", { method: "get", novalidate: true, class: "filters" }, who.element,
      h("div", { class: "field" }, h("label", { for: typeId }, "Event"), types), h("div", { class: "actions" }, apply));
    const hashFor = (c, u = userId, t = type) => {
      const q = new URLSearchParams();
      if (u) q.set("user_id", u);
      if (t) q.set("type", t);
      if (c) q.set("cursor", c);
      return `#/admin/events${q.size ? `?${q}` : ""}`;
    };
    filters.addEventListener("submit", (event) => {
      event.preventDefault();
      navigate(hashFor(null, who.input.value.trim(), types.value));
    });
    append(view, filters);
    const answer = await load(admin.events({ limit: LIMIT, cursor, userId, type }, { signal }), alert, { fields: { user_id: who } });
    if (!answer) return;
    const { body } = answer;
    append(view,
      body.items.length ? eventTable(body.items, cursor ? "Older events" : "Latest events", { withUser: true }) : h("p", {}, "No events."),
      olderNewer(cursor, body.next_cursor, (c) => hashFor(c)));
  },
};
