// Passkeys: a second factor beside the app's codes. The list, adding one (a fresh proof,
// then the browser makes the passkey), and renaming or removing one (with a proof).
import { auth } from "../api.js";
import { alertBox, append, cell, details, field, flash, h, heading, load, sendingForm, table, takeFlash, time } from "../ui.js";
import { createPasskey, passkeysSupported } from "../webauthn.js";
import { accountNav } from "./account.js";
import { careForm, proofFields } from "./proof.js";

const NAME_HINT = "1 to 64 characters you recognise it by: “Work laptop”, “Blue key”.";

function nameField(value = "") {
  return field({ name: "name", label: "Name of the passkey", value, hint: NAME_HINT, autocomplete: "off", required: true, maxlength: "64" });
}

/** The name as the API takes it, or null with the reason shown beside the field. */
function checkedName(name) {
  const value = name.input.value.trim();
  if (value.length >= 1 && value.length <= 64) return value;
  const refusal = new Error("The passkey needs a name.");
  refusal.errors = { name: ["Give the passkey a name of 1 to 64 characters."] };
  throw refusal;
}

const unsupported = () =>
  h("p", { class: "alert" }, "This browser cannot make passkeys at this address: passkeys need https (or http://localhost) and a browser that supports them.");

export const list = {
  auth: true,
  async render(view, { signal }) {
    const alert = alertBox();
    append(view, heading("Passkeys"), accountNav(), takeFlash(), alert.element,
      h("p", {}, "A passkey signs you in after your password, instead of a code from the app: the device (a phone, a laptop, a security key) asks for your fingerprint, face or PIN. The app and your recovery codes keep working."));
    const answer = await load(auth.passkeys({ signal }), alert);
    if (!answer) return;
    const { items } = answer.body;
    append(view,
      items.length
        ? table({
          class: "cards passkeys",
          caption: `${items.length} passkey${items.length === 1 ? "" : "s"}, oldest first`,
          columns: ["Name", "Added", "Last used"],
          rows: items.map((p) => h("tr", { "data-passkey": p.id },
            cell("Name", h("a", { href: `#/account/passkeys/${p.id}` }, p.name,
              h("span", { class: "visually-hidden" }, ": rename or remove"))),
            cell("Added", time(p.created_at)),
            cell("Last used", p.last_used_at ? time(p.last_used_at) : h("span", { class: "none" }, "never")))),
        })
        : h("p", {}, "No passkeys yet."),
      passkeysSupported() ? h("p", {}, h("a", { class: "button", href: "#/account/passkeys/new" }, "Add a passkey")) : unsupported());
  },
};

export const add = {
  auth: true,
  keepsInput: true,
  render(view, { navigate }) {
    const name = nameField();
    const proof = proofFields();
    let options = null;
    const { form } = sendingForm({
      submitLabel: "Add passkey",
      fields: { name, ...proof.fields },
      content: [name.element, proof.elements, h("p", { class: "hint" }, "Your browser then asks the device to make the passkey.")],
      send: async () => {
        options = null;
        const label = checkedName(name);
        ({ body: options } = await auth.passkeyOptions(proof.values()));
        // The proof is used: a code from the app works once, a recovery code too.
        proof.clearCode();
        const credential = await createPasskey(options);
        const { body } = await auth.addPasskey(label, credential);
        flash(`The passkey “${body.name}” is added: it signs you in from now on.`);
        navigate("#/account/passkeys");
      },
      extra: () => (options ? h("p", {}, "Your code was used: enter a new one to try again.") : null),
    });
    append(view, h("p", { class: "breadcrumbs" }, h("a", { href: "#/account/passkeys" }, "Passkeys")),
      heading("Add a passkey"), accountNav(), passkeysSupported() ? form : unsupported());
  },
};

export const one = {
  auth: true,
  keepsInput: true,
  async render(view, { params, signal, navigate }) {
    const alert = alertBox();
    append(view, h("p", { class: "breadcrumbs" }, h("a", { href: "#/account/passkeys" }, "Passkeys")),
      heading("Passkey"), accountNav(), alert.element);
    const listed = await load(auth.passkeys({ signal }), alert);
    if (!listed) return;
    const passkey = listed.body.items.find((p) => String(p.id) === params.id);
    if (!passkey) {
      alert.show(h("p", {}, "Your account has no such passkey: it may have been removed."));
      return;
    }
    view.querySelector("h1").textContent = `Passkey “${passkey.name}”`;
    document.title = `${passkey.name} - Shop console`;
    const gone = (error) => {
      if (error.status !== 404) return false;
      flash("That passkey had already been removed.");
      navigate("#/account/passkeys");
      return true;
    };

    const name = nameField(passkey.name);
    const { form: renameForm } = sendingForm({
      submitLabel: "Rename",
      fields: { name },
      content: name.element,
      send: async () => {
        let body;
        try {
          ({ body } = await auth.renamePasskey(passkey.id, checkedName(name)));
        } catch (error) {
          if (gone(error)) return;
          throw error;
        }
        flash(`The passkey is now called “${body.name}”.`);
        navigate("#/account/passkeys");
      },
    });

    const { form: removeForm } = careForm({
      submitLabel: "Remove passkey",
      danger: true,
      send: async (proof) => {
        try {
          return await auth.removePasskey(passkey.id, proof);
        } catch (error) {
          if (gone(error)) return null;
          throw error;
        }
      },
      done: (answer) => {
        if (answer === null) return;
        flash(`The passkey “${passkey.name}” is removed: it no longer signs in.`);
        navigate("#/account/passkeys");
      },
    });
    append(view,
      details(["Added", time(passkey.created_at)],
        ["Last used", passkey.last_used_at ? time(passkey.last_used_at) : "never"]),
      h("h2", {}, "Rename"), renameForm,
      h("h2", {}, "Remove"),
      h("p", {}, "A removed passkey no longer signs in. Remove one you lost, or one on a device you gave away."),
      removeForm);
  },
};
