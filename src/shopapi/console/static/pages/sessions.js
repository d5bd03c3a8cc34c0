// The account's live sessions (each sign-in, on any device): sign one out, or all.
import { auth } from "../api.js";
import { session } from "../session.js";
import { confirmDialog } from "../dialog.js";
import { alertBox, append, busy, cell, flash, h, heading, load, showProblem, table, takeFlash, time } from "../ui.js";
import { accountNav, signOut } from "./account.js";

/** A browser's User-Agent, shortened to what a person recognises. */
function browser(agent) {
  if (!agent) return "an unknown client";
  const known = /(Edg|Firefox|Chrome|Chromium|Safari|curl|python-requests|PostmanRuntime)\/[0-9.]+/.exec(agent);
  const system = /\((?:X11; )?([^;)]+)/.exec(agent);
  return known ? `${known[0]}${system ? ` on ${system[1]}` : ""}` : agent.slice(0, 80);
}

function everywhereDialog(navigate) {
  confirmDialog({
    title: "Sign out everywhere?",
    text: "Every session of your account ends, this one too: each device must sign in again.",
    yesLabel: "Sign out everywhere",
    action: async () => {
      try {
        await auth.endAllSessions();
      } catch (error) {
        if (error.status !== 401) throw error; // 401: this session had already ended
      }
      session.end();
      flash("You are signed out everywhere.");
      navigate("#/sign-in");
    },
  });
}

export default {
  auth: true,
  async render(view, { signal, navigate, refresh }) {
    const alert = alertBox();
    append(view, heading("Sessions"), accountNav(), takeFlash(), alert.element,
      h("p", {}, "Each sign-in is a session. End one you do not recognise: its device is signed out at its next action."));
    const answer = await load(auth.sessions({ signal }), alert);
    if (!answer) return;
    const { items } = answer.body;
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
      table({
        class: "cards sessions",
        caption: `${items.length} live session${items.length === 1 ? "" : "s"}, newest first`,
        columns: ["Device", "Signed in", "Last active", "Ends if unused", h("span", { class: "visually-hidden" }, "Action")],
        rows: items.map(row),
      }),
      h("div", { class: "actions" }, everywhere));
  },
};
