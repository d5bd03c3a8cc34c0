// Ten new recovery codes, with a fresh proof; every earlier code stops working.
import { auth } from "../api.js";
import { session } from "../session.js";
import { append, flash, h, heading } from "../ui.js";
import { accountNav } from "./account.js";
import { recoveryFile, shownOnce } from "./codes.js";
import { careForm } from "./proof.js";

function showCodes(view, codes, { navigate, onLeave }) {
  const username = session.user?.username || "account";
  const { shown, form } = shownOnce({
    codes,
    about: "Each of these codes signs you in once if you lose your phone. They are shown only now: download them or write them down. Your earlier codes no longer work.",
    file: recoveryFile(username),
    keep: {
      label: "I have saved them",
      submitLabel: "Done",
      question: "Your new recovery codes are shown only once. Leave without saving them?",
      onLeave,
      done: () => {
        flash("Your new recovery codes are in use; the earlier ones no longer work.");
        navigate("#/account");
      },
    },
  });
  view.replaceChildren(heading("Your new recovery codes"), ...shown, form);
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
