// The fresh proof that account care asks for: the current password, and a code from the
// authenticator app or a recovery code. Account pages put these fields in their forms.
import { field, h, sendingForm, uid } from "../ui.js";

/**
 * The second factor's fields: a code from the app or a recovery code, and the radio group
 * that chooses between them (the sign-in's code step and the proof share it). `code()` is
 * the API's form of what was typed (`{otp}` or `{recovery_code}`).
 */
export function codeFields(recoveryHint) {
  const fields = {
    otp: field({
      name: "otp", label: "6-digit code from your authenticator app", autocomplete: "one-time-code",
      inputmode: "numeric", required: true,
    }),
    recovery_code: field({
      name: "recovery_code", label: "Recovery code", autocomplete: "off", spellcheck: "false",
      hint: recoveryHint, required: true,
    }),
  };
  fields.recovery_code.element.hidden = true;
  const group = uid("method");
  const choice = (value, label, checked) =>
    h("div", { class: "choice" },
      h("input", { type: "radio", name: group, id: `${group}-${value}`, value, checked }),
      h("label", { for: `${group}-${value}` }, label));
  const methods = h("fieldset", { class: "methods" },
    h("legend", {}, "Confirm it is you with"),
    choice("otp", "a code from the app", true),
    choice("recovery_code", "a recovery code", false));
  methods.addEventListener("change", (event) => {
    const useRecovery = event.target.value === "recovery_code";
    fields.otp.element.hidden = useRecovery;
    fields.recovery_code.element.hidden = !useRecovery;
  });
  return {
    fields,
    methods,
    usesRecovery: () => !fields.recovery_code.element.hidden,
    code() {
      return fields.recovery_code.element.hidden
        ? { otp: fields.otp.input.value.replace(/\s+/g, "") }
        : { recovery_code: fields.recovery_code.input.value.trim() };
    },
  };
}

/**
 * The proof's fields. Returns `{elements, fields, values()}`: `fields` are keyed by the
 * API's names (`password`, `otp`, `recovery_code`), so problem details land beside them.
 */
export function proofFields() {
  const second = codeFields("A recovery code is used up by this change.");
  const fields = {
    password: field({
      name: "password", label: "Current password", type: "password", autocomplete: "current-password", required: true,
    }),
    ...second.fields,
  };
  const methods = second.methods;
  const elements = h("fieldset", { class: "proof" },
    h("legend", {}, "Confirm it is you"),
    h("p", { class: "hint" }, "This change needs your password and a fresh code, even though you are signed in."),
    fields.password.element, methods, fields.otp.element, fields.recovery_code.element);
  return {
    elements,
    fields,
    values() {
      return { password: fields.password.input.value, ...second.code() };
    },
    /** A code works once: after a success, or a refused proof, it is typed afresh. */
    clearCode() {
      fields.otp.input.value = "";
      fields.recovery_code.input.value = "";
    },
  };
}

/**
 * A form of account care: `extra` fields first (keyed by API name), then the proof.
 * `send(proof)` calls the API; `done(answer)` runs on success. A refusal shows each
 * problem beside its field and keeps everything typed.
 */
export function careForm({ intro = [], extra = {}, submitLabel, danger = false, send, done }) {
  const proof = proofFields();
  const fields = { ...extra, ...proof.fields };
  const { form, alert } = sendingForm({
    submitLabel,
    danger,
    fields,
    content: [intro, Object.values(extra).map((f) => f.element), proof.elements],
    send: async () => {
      const answer = await send(proof.values());
      proof.clearCode();
      await done(answer);
    },
  });
  return { form, alert, fields };
}
