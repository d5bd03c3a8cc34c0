// The account's security log: sign-ins, failures, changes, newest first, a page at a time.
import { auth } from "../api.js";
import { alertBox, append, cell, h, heading, load, pager, show, table, time } from "../ui.js";
import { accountNav } from "./account.js";

export const EVENT_TYPES = {
  registered: "Account created",
  signed_in: "Signed in",
  password_failed: "Wrong password",
  code_failed: "Wrong code",
  locked_out: "Locked out (too many failures)",
  signed_out: "Signed out",
  session_ended: "Session ended",
  password_changed: "Password changed",
  recovery_codes_replaced: "New recovery codes",
  totp_replaced: "Authenticator replaced",
  role_changed: "Role changed",
  disabled: "Account disabled",
  enabled: "Account enabled",
  unlocked: "Account unlocked",
  totp_reset: "Authenticator reset by an admin",
  passkey_added: "Passkey added",
  passkey_removed: "Passkey removed",
  passkey_counter_regressed: "Passkey refused (a copied authenticator?)",
  api_key_created: "API key created",
  api_key_revoked: "API key revoked",
};
const METHODS = { totp: "with a code from the app", recovery_code: "with a recovery code", passkey: "with a passkey" };
const REASONS = {
  revoked: "signed out from another session",
  reuse_detected: "a used refresh token came back (a possible theft)",
  session_cap: "too many sessions: the oldest ended",
  password_changed: "the password changed",
  totp_replaced: "the authenticator was replaced",
  disabled: "the account was disabled",
  totp_reset: "an admin reset the authenticator",
};

function details(event) {
  const parts = [];
  if (event.method) parts.push(METHODS[event.method] || event.method);
  if (event.name) parts.push(`“${event.name}”`);
  if (event.reason) parts.push(REASONS[event.reason] || event.reason);
  if (event.from || event.to) parts.push(`from ${event.from} to ${event.to}`);
  if (event.actor_id !== undefined) parts.push(`by admin (user ${event.actor_id})`);
  return parts.length ? parts.join("; ") : show(null);
}

/** A table of security events; `withUser` adds the account's id (the admins' log). */
export function eventTable(items, caption, { withUser = false } = {}) {
  return table({
    class: "cards events",
    caption,
    columns: ["When", ...(withUser ? ["User"] : []), "Event", "Details", "Address", "Client"],
    rows: items.map((e) => h("tr", {},
      cell("When", time(e.at)),
      withUser ? cell("User", e.user_id === undefined ? show(null) : h("a", { href: `#/admin/users/${e.user_id}` }, String(e.user_id))) : null,
      cell("Event", EVENT_TYPES[e.type] || e.type),
      cell("Details", details(e)),
      cell("Address", show(e.ip)),
      cell("Client", show(e.user_agent)))),
  });
}

/** "Newest" and "Older" links; `hashFor(cursor)` makes a page's address. */
export function olderNewer(cursor, nextCursor, hashFor) {
  return pager({ cursor, nextCursor, hashFor, labels: { first: "Newest events", next: "Older events" } });
}

const LIMIT = 25;

export default {
  auth: true,
  async render(view, { query, signal }) {
    const cursor = query.get("cursor");
    const alert = alertBox();
    append(view, heading("Security log"), accountNav(), alert.element,
      h("p", {}, "What happened to your account's security, newest first. Something you do not recognise? Change your password and sign out everywhere."));
    const answer = await load(auth.events({ limit: LIMIT, cursor }, { signal }), alert, {
      extra: () => (cursor ? h("p", {}, h("a", { href: "#/account/events" }, "Back to the newest events")) : null),
    });
    if (!answer) return;
    const { body } = answer;
    const hashFor = (c) => (c ? `#/account/events?${new URLSearchParams({ cursor: c })}` : "#/account/events");
    append(view,
      body.items.length ? eventTable(body.items, cursor ? "Older events" : "Latest events") : h("p", {}, "No events."),
      olderNewer(cursor, body.next_cursor, hashFor));
  },
};
