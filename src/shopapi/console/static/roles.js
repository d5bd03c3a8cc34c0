// What the signed-in account may do. /auth/me names the account's role but not what the
// role allows, so this is the console's one table of it (the service's own is
// auth/roles.py): pages ask `can(action)` and never compare roles themselves.
import { session } from "./session.js";

/** The roles an admin may give, least first: each may do all that the ones before it may. */
export const ROLES = ["viewer", "editor", "admin"];

/** Each action of the console, and the least role that may do it. */
const NEEDS = {
  "change products": "editor",
  administer: "admin",
};

/** Whether `user` (by default the signed-in account, as /auth/me last said) may do `action`. */
export function can(action, user = session.user) {
  const needed = NEEDS[action];
  if (needed === undefined) throw new Error(`The console knows no action "${action}".`);
  return Boolean(user) && ROLES.indexOf(user.role) >= ROLES.indexOf(needed);
}
