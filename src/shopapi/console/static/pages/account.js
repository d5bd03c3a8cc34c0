// Your account: who the service says you are (/auth/me), the ways to look after the
// account, and signing out.
import { ApiError, auth } from "../api.js";
import { session } from "../session.js";
import { alertBox, append, busy, details, flash, h, heading, load, takeFlash, time } from "../ui.js";

/** End the session at the service, then forget the tokens here whatever the answer. */
export async function signOut(navigate) {
  let message = "You are signed out.";
  try {
    await auth.logout();
  } catch (error) {
    // 401: the service had already ended it. Otherwise it may still be valid there
    // until it expires, which the user should know.
    if (!(error instanceof ApiError) || error.status !== 401) {
      message = `You are signed out of this console, but the service did not confirm it (${error.message}) The token stops working within 10 minutes.`;
    }
  }
  session.end();
  flash(message);
  navigate("#/sign-in");
}

const PAGES = [
  ["Overview", "#/account"],
  ["Sessions", "#/account/sessions"],
  ["Change password", "#/account/password"],
  ["Replace authenticator", "#/account/authenticator"],
  ["Passkeys", "#/account/passkeys"],
  ["API keys", "#/account/api-keys"],
  ["New recovery codes", "#/account/recovery-codes"],
  ["Security log", "#/account/events"],
  ["Delete account", "#/account/delete"],
];

/** The links between the account's pages, the current one marked. */
export function accountNav() {
  return h("nav", { "aria-label": "Your account", class: "subnav" },
    h("ul", {}, PAGES.map(([label, hash]) =>
      h("li", {}, h("a", { href: hash, "aria-current": location.hash === hash ? "page" : null }, label)))));
}

export default {
  auth: true,
  async render(view, { signal, navigate }) {
    const alert = alertBox();
    append(view, heading("Your account"), accountNav(), takeFlash(), alert.element);
    const answer = await load(auth.me({ signal }), alert);
    if (!answer) return;
    const me = answer.body;
    session.setUser(me);
    const out = h("button", { type: "button" }, "Sign out");
    out.addEventListener("click", () => busy(out, () => signOut(navigate)));
    append(view,
      details(
        ["Username", me.username],
        me.role ? ["Role", me.role] : null,
        ["User id", String(me.id)],
        ["Account created", time(me.created_at)]),
      h("p", {}, "Signing out ends this session at the service: its tokens stop working everywhere at once."),
      h("div", { class: "actions" }, out));
  },
};
