// Signing in: the password, then a code from the authenticator app, a recovery code, or
// the account's passkey.
import { auth, reloadUser } from "../api.js";
import { session } from "../session.js";
import { modal } from "../dialog.js";
import { alertBox, append, busy, clearProblem, field, h, heading, sendingForm, showProblem, takeFlash } from "../ui.js";
import { passkeysSupported, usePasskey } from "../webauthn.js";
import { enrolment } from "./enrolment.js";
import { codeFields } from "./proof.js";

let returnHash = null;

/**
 * The two steps of signing in, in an element of their own (the page and the "sign in
 * again" dialog both use it). `login`: a password step already passed (its answer).
 */
export function signInFlow({ username = "", login = null, showEnrolment = true, onDone }) {
  const box = h("div", { class: "sign-in-flow" });

  function passwordStep(name) {
    const fields = {
      username: field({ name: "username", label: "Username", value: name, autocomplete: "username", required: true }),
      password: field({ name: "password", label: "Password", type: "password", autocomplete: "current-password", required: true }),
    };
    const { form } = sendingForm({
      submitLabel: "Continue",
      fields,
      content: [fields.username.element, fields.password.element],
      send: async () => {
        const user = fields.username.input.value.trim();
        const { body } = await auth.login(user, fields.password.input.value);
        codeStep(body, user);
      },
    });
    box.replaceChildren(form);
    (name ? fields.password : fields.username).input.focus();
  }

  function codeStep(answer, name) {
    const alert = alertBox();
    const second = codeFields("One of the codes you saved when you created the account. Each works once.");
    const { fields, methods } = second;
    const submit = h("button", { type: "submit" }, "Sign in");
    const again = h("button", { type: "button", class: "secondary" }, "Start again");
    again.addEventListener("click", () => passwordStep(name));
    const setup = answer.enrollment && showEnrolment
      ? [h("p", {}, "Your authenticator app is not set up yet. Add this account to it, then enter the code it shows."),
         enrolment(answer.enrollment, name)]
      : [];
    const finish = async (code) => {
      const { body } = await auth.verify(answer.mfa_token, code);
      session.start(body);
      await reloadUser(); // the name and role in the navigation bar
      onDone();
    };
    // The account has a passkey: the browser signs the challenge bound to this mfa_token.
    let passkey = null;
    if ((answer.methods || []).includes("passkey") && passkeysSupported()) {
      passkey = h("button", { type: "button", class: "secondary" }, "Sign in with a passkey");
      passkey.addEventListener("click", () => busy(passkey, async () => {
        clearProblem(alert, fields);
        try {
          const { body: options } = await auth.passkeySignInOptions(answer.mfa_token);
          await finish({ passkey: await usePasskey(options) });
        } catch (error) {
          showProblem(error, alert, fields);
        }
      }));
    }
    const form = h("form", { method: "post", novalidate: true },
      ...setup, alert.element, methods, fields.otp.element, fields.recovery_code.element,
      h("div", { class: "actions" }, submit, passkey, again));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(submit, async () => {
        clearProblem(alert, fields);
        const useRecovery = second.usesRecovery();
        try {
          await finish(second.code());
        } catch (error) {
          showProblem(error, alert, fields);
          const input = useRecovery ? fields.recovery_code.input : fields.otp.input;
          input.select();
        }
      });
    });
    box.replaceChildren(form);
    fields.otp.input.focus();
  }

  if (login) codeStep(login, username);
  else passwordStep(username);
  return box;
}

/** Sign in again over the current page, which stays as it is (with what was typed). */
let dialogOpen = false;
export function reauthenticate(onDone) {
  if (dialogOpen) return;
  dialogOpen = true;
  const close = h("button", { type: "button", class: "secondary" }, "Close");
  const flow = signInFlow({ username: session.user?.username || "", onDone: () => { dialog.close(); onDone(); } });
  const dialog = modal({ title: "Sign in again", class: "reauth", onClose: () => { dialogOpen = false; } },
    h("p", {}, "Your session has ended. Sign in again to carry on; this page keeps what you typed."),
    flow, h("div", { class: "actions" }, close));
  close.addEventListener("click", () => dialog.close());
  // The first empty field: the password when the username is already known.
  [...dialog.querySelectorAll("input")].find((i) => i.type !== "radio" && !i.value)?.focus();
}

export default {
  auth: false,
  /** Where to go once signed in (the page that asked for a sign-in). */
  returnTo(hash) {
    returnHash = hash;
  },
  render(view, { navigate }) {
    if (session.signedIn) {
      navigate("#/products", { replace: true });
      return;
    }
    const done = () => {
      const target = returnHash || "#/products";
      returnHash = null;
      navigate(target);
    };
    append(view, 
      heading("Sign in"),
      takeFlash(),
      signInFlow({ username: session.user?.username || "", onDone: done }),
      h("p", {}, "No account yet? ", h("a", { href: "#/register" }, "Create an account"), "."),
    );
  },
};
