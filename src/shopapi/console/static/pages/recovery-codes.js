// Ten new recovery codes, with a fresh proof; every earlier code stops working.
import { auth } from "../api.js";
import { session } from "../session.js";
import { append, flash, h, heading, uid } from "../ui.js";
import { accountNav } from "./account.js";
import { codeList, download } from "./codes.js";
import { careForm } from "./proof.js";

function showCodes(view, codes, { navigate, onLeave }) {
  let saved = false;
  onLeave(() => (saved ? null : "Your new recovery codes are shown only once. Leave without saving them?"));
  const username = session.user?.username || "account";
  const box = uid("saved");
  const tick = h("input", { type: "checkbox", id: box, "aria-describedby": `${box}-error` });
  const tickError = h("p", { class: "field-error", id: `${box}-error`, hidden: true },
    "Tick the box once the recovery codes are somewhere safe.");
  tick.addEventListener("change", () => {
    tickError.hidden = true;
  });
  const save = h("button", { type: "button", class: "secondary" }, "Download as text");
  save.addEventListener("click", () => download(codes, username));
  const finish = h("button", { type: "submit" }, "Done");
  const form = h("form", { method: "post", novalidate: true },
    h("div", { class: "choice" }, tick, h("label", { for: box }, "I have saved them")),
    tickError, h("div", { class: "actions" }, finish));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!tick.checked) {
      tickError.hidden = false;
      tick.focus();
      return;
    }
    saved = true;
    flash("Your new recovery codes are in use; the earlier ones no longer work.");
    navigate("#/account");
  });
  view.replaceChildren(
    heading("Your new recovery codes"),
    h("p", {}, "Each of these codes signs you in once if you lose your phone. They are shown only now: download them or write them down. Your earlier codes no longer work."),
    codeList(codes),
    h("div", { class: "actions" }, save),
    form,
  );
  view.querySelector("h1").focus();
}

export default {
  auth: true,
  keepsInput: true,
  render(view, context) {
    const { form } = careForm({
      submitLabel: "Make new recovery codes",
      send: (proof) => auth.newRecoveryCodes(proof),
      done: ({ body }) => showCodes(view, body.recovery_codes, context),
    });
    append(view, heading("New recovery codes"), accountNav(),
      h("p", {}, "Used some codes, or lost the list? Ten new codes replace every earlier one."),
      form);
  },
};
