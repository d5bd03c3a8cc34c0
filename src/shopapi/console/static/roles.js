// What the signed-in account may do, as /auth/me says in `permissions`: pages ask
// `can(action)` and never compare roles themselves, so the console keeps no ranking of its own.
import { session } from "./session.js";

/** The roles an admin may give (the choices of the role picker, not a ranking). */
export const ROLES = ["viewer", "editor", "admin"];

/** Each action of the console, and the permission of /auth/me that allows it. */
const NEEDS = {
  "change products": "products:write",
  // Stock movements and reservations need the editor's role, as changing products does.
  "move stock": "products:write",
  "hold stock": "products:write",
  administer: "admin",
};

/** Whether `user` (by default the signed-in account, as /auth/me last said) may do `action`. */
export function can(action, user = session.user) {
  const needed = NEEDS[action];
  if (needed === undefined) throw new Error(`The console knows no action "${action}".`);
  return Boolean(user) && (user.permissions ?? []).includes(needed);
}
