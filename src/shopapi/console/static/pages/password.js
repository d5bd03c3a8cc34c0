// A new password, with a fresh proof. Every other session ends; this one stays.
import { auth } from "../api.js";
import { append, field, flash, h, heading } from "../ui.js";
import { accountNav } from "./account.js";
import { careForm } from "./proof.js";

export default {
  auth: true,
  keepsInput: true,
  render(view, { navigate }) {
    const fresh = field({
      name: "new_password", label: "New password", type: "password", autocomplete: "new-password", required: true,
      hint: "8 to 256 characters of any kind. A long phrase is good; a common password or one containing your username is refused.",
    });
    const { form } = careForm({
      extra: { new_password: fresh },
      submitLabel: "Change password",
      send: (proof) => auth.changePassword(fresh.input.value, proof),
      done: () => {
        flash("Your password is changed. Every other session of your account was signed out.");
        navigate("#/account");
      },
    });
    append(view, heading("Change password"), accountNav(), form,
      h("p", {}, "Other devices signed in to your account must sign in again with the new password."));
  },
};
