// A new authenticator: a fresh proof, then the new QR code, then a code of the new app.
// The old authenticator keeps working until the new one is confirmed.
import { auth } from "../api.js";
import { session } from "../session.js";
import { append, field, flash, h, heading, sendingForm } from "../ui.js";
import { accountNav } from "./account.js";
import { enrolment } from "./enrolment.js";
import { careForm } from "./proof.js";

function confirmStep(view, answer, navigate) {
  const code = field({
    name: "otp", label: "6-digit code from the new authenticator", autocomplete: "one-time-code",
    inputmode: "numeric", required: true,
  });
  const { form } = sendingForm({
    submitLabel: "Confirm new authenticator",
    fields: { otp: code },
    content: code.element,
    send: async () => {
      await auth.confirmTotp(answer.enrollment_token, code.input.value.replace(/\s+/g, ""));
      flash("Your new authenticator is set up; the old one no longer works. Every other session was signed out.");
      navigate("#/account");
    },
    failed: () => code.input.select(),
  });
  const minutes = Math.round(Number(answer.expires_in) / 60);
  view.replaceChildren(
    heading("Scan your new authenticator"),
    h("p", {}, `Add the account to the new app, then enter the code it shows within ${minutes} minutes. Until then your old app keeps working.`),
    enrolment(answer.totp, session.user?.username || "your account"),
    form,
  );
  view.querySelector("h1").focus();
}

export default {
  auth: true,
  keepsInput: true,
  render(view, { navigate }) {
    const { form } = careForm({
      submitLabel: "Continue",
      send: (proof) => auth.newTotp(proof),
      done: ({ body }) => confirmStep(view, body, navigate),
    });
    append(view, heading("Replace authenticator"), accountNav(),
      h("p", {}, "A new phone, or a new app? Get a new QR code here. The old app stops working once the new one is confirmed."),
      form);
  },
};
