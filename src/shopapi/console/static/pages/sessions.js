// The account's live sessions (each sign-in, on any device): sign one out, or all.
import { auth } from "../api.js";
import { session } from "../session.js";
import { alertBox, append, busy, flash, h, heading, showProblem, takeFlash, time, uid } from "../ui.js";
import { accountNav, signOut } from "./account.js";

/** A browser's User-Agent, shortened to what a person recognises. */
function browser(agent) {
  if (!agent) return "an unknown client";
  const known = /(Edg|Firefox|Chrome|Chromium|Safari|curl|python-requests|PostmanRuntime)\/[0-9.]+/.exec(agent);
  const system = /\((?:X11; )?([^;)]+)/.exec(agent);
  return known ? `${known[0]}${system ? ` on ${system[1]}` : ""}` : agent.slice(0, 80);
}

function everywhereDialog(navigate) {
  const titleId = uid("everywhere");
  const alert = alertBox();
  const yes = h("button", { type: "button", class: "danger" }, "Sign out everywhere");
  const no = h("button", { type: "button", class: "secondary" }, "Cancel");
  const dialog = h("dialog", { "aria-labelledby": titleId },
    h("h2", { id: titleId }, "Sign out everywhere?"),
    h("p", {}, "Every session of your account ends, this one too: each device must sign in again."),
    alert.element,
    h("div", { class: "actions" }, yes, no));
  no.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());
  yes.addEventListener("click", () =>
    busy(yes, async () => {
      try {
        await auth.endAllSessions();
      } catch (error) {
        if (error.status !== 401) {
          showProblem(error, alert);
          return;
        }
      }
      dialog.close();
      session.end();
      flash("You are signed out everywhere.");
      navigate("#/sign-in");
    }));
  document.body.append(dialog);
  dialog.showModal();
  no.focus();
}

export default {
  auth: true,
  async render(view, { signal, navigate, refresh }) {
    const alert = alertBox();
    append(view, heading("Sessions"), accountNav(), takeFlash(), alert.element,
      h("p", {}, "Each sign-in is a session. End one you do not recognise: its device is signed out at its next action."));
    let items;
    try {
      ({ body: { items } } = await auth.sessions({ signal }));
    } catch (error) {
      if (error.name === "AbortError") throw error;
      showProblem(error, alert);
      return;
    }
    const row = (s) => {
      const from = browser(s.user_agent);
      const end = h("button", { type: "button", class: "secondary", "data-session": s.id },
        "Sign out", h("span", { class: "visually-hidden" }, ` the session of ${from}`));
      end.addEventListener("click", () => busy(end, async () => {
        if (s.current) {
          await signOut(navigate);
          return;
        }
        try {
          await auth.endSession(s.id);
          flash(`The session of ${from} is signed out.`);
        } catch (error) {
          if (error.status !== 404) {
            showProblem(error, alert);
            return;
          }
          flash("That session had already ended.");
        }
        refresh();
      }));
      const cell = (label, ...content) => h("td", { "data-label": label }, ...content);
      return h("tr", { "data-session": s.id },
        cell("Device", from, s.current ? h("strong", {}, " (this session)") : null),
        cell("Signed in", time(s.created_at)),
        cell("Last active", time(s.last_used_at)),
        cell("Ends", time(s.expires_at)),
        h("td", {}, end));
    };
    const everywhere = h("button", { type: "button", class: "danger" }, "Sign out everywhere…");
    everywhere.addEventListener("click", () => everywhereDialog(navigate));
    append(view,
      h("div", { class: "table-wrap" }, h("table", { class: "cards sessions" },
        h("caption", {}, `${items.length} live session${items.length === 1 ? "" : "s"}, newest first`),
        h("thead", {}, h("tr", {}, ["Device", "Signed in", "Last active", "Ends if unused"].map((c) => h("th", { scope: "col" }, c)),
          h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Action")))),
        h("tbody", {}, items.map(row)))),
      h("div", { class: "actions" }, everywhere));
  },
};
