// A new authenticator: a fresh proof, then the new QR code, then a code of the new app.
// The old authenticator keeps working until the new one is confirmed.
import { auth } from "../api.js";
import { session } from "../session.js";
import { alertBox, append, busy, clearProblem, field, flash, h, heading, showProblem } from "../ui.js";
import { accountNav } from "./account.js";
import { enrolment } from "./enrolment.js";
import { careForm } from "./proof.js";

function confirmStep(view, answer, navigate) {
  const alert = alertBox();
  const code = field({
    name: "otp", label: "6-digit code from the new authenticator", autocomplete: "one-time-code",
    inputmode: "numeric", required: true,
  });
  const submit = h("button", { type: "submit" }, "Confirm new authenticator");
  const form = h("form", { method: "post", novalidate: true }, alert.element, code.element,
    h("div", { class: "actions" }, submit));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      clearProblem(alert, { otp: code });
      try {
        await auth.confirmTotp(answer.enrollment_token, code.input.value.replace(/\s+/g, ""));
      } catch (error) {
        showProblem(error, alert, { otp: code });
        code.input.select();
        return;
      }
      flash("Your new authenticator is set up; the old one no longer works. Every other session was signed out.");
      navigate("#/account");
    });
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
