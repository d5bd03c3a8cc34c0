// Creating an account: username and password, then the authenticator and recovery codes.
import { auth } from "../api.js";
import { session } from "../session.js";
import { append, field, h, heading, sendingForm, showProblem, uid } from "../ui.js";
import { recoveryFile, shownOnce } from "./codes.js";
import { enrolment } from "./enrolment.js";
import { signInFlow } from "./sign-in.js";

function accountForm(view, onCreated) {
  const fields = {
    username: field({
      name: "username", label: "Username", autocomplete: "username", required: true,
      hint: "3 to 50 characters: letters A-Z, digits, “.”, “_” or “-”. Capitals do not make a new name.",
    }),
    password: field({
      name: "password", label: "Password", type: "password", autocomplete: "new-password", required: true,
      hint: "8 to 256 characters of any kind. A long phrase is good; a common password or one containing your username is refused.",
    }),
  };
  const reveal = uid("reveal");
  const toggle = h("input", { type: "checkbox", id: reveal });
  toggle.addEventListener("change", () => {
    fields.password.input.type = toggle.checked ? "text" : "password";
  });
  const { form } = sendingForm({
    submitLabel: "Create account",
    fields,
    content: [fields.username.element, fields.password.element,
      h("div", { class: "choice" }, toggle, h("label", { for: reveal }, "Show the password"))],
    send: async () => {
      const password = fields.password.input.value;
      const { body } = await auth.register(fields.username.input.value.trim(), password);
      onCreated(body, password);
    },
  });
  append(view, form, h("p", {}, "Already have an account? ", h("a", { href: "#/sign-in" }, "Sign in"), "."));
}

/** The answer of /auth/register: what to scan and what to keep, shown once. */
function setup(view, account, password, context) {
  const { shown, form } = shownOnce({
    codes: account.recovery_codes,
    about: "If you lose your phone, each of these codes signs you in once. They are shown only now: download them or write them down.",
    file: recoveryFile(account.username),
    keep: {
      label: "I have saved my recovery codes",
      submitLabel: "Continue",
      question: "Your recovery codes are shown only once. Leave without saving them?",
      onLeave: context.onLeave,
      done: async (alert) => {
        try {
          const { body } = await auth.login(account.username, password);
          password = null;
          confirmStep(view, account.username, body, context);
        } catch (error) {
          // The account exists; the sign-in page can take it from here.
          showProblem(error, alert, {}, h("p", {}, h("a", { href: "#/sign-in" }, "Go to the sign-in page")));
        }
      },
    },
  });
  view.replaceChildren(
    heading("Set up your authenticator"),
    h("p", { class: "flash", role: "status" }, `Account ${account.username} created.`),
    h("h2", {}, "1. Add the account to your authenticator app"),
    enrolment(account.totp, account.username),
    h("h2", {}, "2. Save your recovery codes"),
    ...shown,
    h("h2", {}, "3. Confirm"),
    form,
  );
  view.querySelector("h1").focus();
}

function confirmStep(view, username, login, { navigate }) {
  view.replaceChildren(
    heading("Confirm your authenticator"),
    h("p", {}, `Enter the code your app shows for ${username}; this also signs you in.`),
    signInFlow({ username, login, showEnrolment: false, onDone: () => navigate("#/products") }),
  );
  view.querySelector("h1").focus();
}

export default {
  auth: false,
  render(view, context) {
    if (session.signedIn) {
      context.navigate("#/account", { replace: true });
      return;
    }
    append(view, heading("Create an account"));
    accountForm(view, (account, password) => setup(view, account, password, context));
  },
};
