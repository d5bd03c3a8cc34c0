// Deleting the account, with a fresh proof and a box to tick. Products stay.
import { auth } from "../api.js";
import { session } from "../session.js";
import { append, field, flash, h, heading } from "../ui.js";
import { accountNav } from "./account.js";
import { careForm } from "./proof.js";

export default {
  auth: true,
  keepsInput: true,
  render(view, { navigate }) {
    const sure = field({ name: "confirm", label: "Type DELETE to confirm", autocomplete: "off", required: true });
    const { form } = careForm({
      extra: { confirm: sure },
      submitLabel: "Delete my account",
      danger: true,
      send: (proof) => {
        if (sure.input.value.trim() !== "DELETE") {
          const refusal = new Error("Type DELETE in the box to confirm.");
          refusal.errors = { confirm: ["Type DELETE, in capitals, to confirm."] };
          throw refusal;
        }
        return auth.deleteMe(proof);
      },
      done: () => {
        session.end();
        flash("Your account is deleted. Products you created or changed keep their history.");
        navigate("#/sign-in");
      },
    });
    append(view, heading("Delete account"), accountNav(),
      h("p", {}, "Your account, its sessions and its codes are deleted at once and cannot be restored; the username becomes free. Products you created or changed stay, and their history keeps your user id."),
      form);
  },
};
