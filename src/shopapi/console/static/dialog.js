// Dialogs over the page: modal, removed once closed, their title naming them.
import { alertBox, busy, h, showProblem, uid } from "./ui.js";

/** A modal dialog titled `title` with `content`, shown at once; `onClose` runs once it is gone. */
export function modal({ title, class: className = null, onClose = null }, ...content) {
  const titleId = uid("dialog");
  const dialog = h("dialog", { class: className, "aria-labelledby": titleId }, h("h2", { id: titleId }, title), ...content);
  dialog.addEventListener("close", () => {
    dialog.remove();
    onClose?.();
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/**
 * Ask before what cannot be taken back. `action()` runs while the yes button is busy;
 * the dialog closes once it is done, or shows why the service refused it.
 */
export function confirmDialog({ title, text, yesLabel, action }) {
  const alert = alertBox();
  const yes = h("button", { type: "button", class: "danger" }, yesLabel);
  const no = h("button", { type: "button", class: "secondary" }, "Cancel");
  const dialog = modal({ title }, h("p", {}, text), alert.element, h("div", { class: "actions" }, yes, no));
  no.addEventListener("click", () => dialog.close());
  yes.addEventListener("click", () =>
    busy(yes, async () => {
      try {
        await action();
      } catch (error) {
        showProblem(error, alert);
        return;
      }
      dialog.close();
    }));
  no.focus();
}
