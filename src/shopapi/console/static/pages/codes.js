// Codes the service shows only once (recovery codes, an invite's code, an API key): one
// panel for all.
import { alertBox, busy, h, uid } from "../ui.js";

/** `lines` then the codes, as a text file the browser saves as `filename`. */
function download(filename, lines, codes) {
  const text = [...lines, "", ...codes, ""].join("\n");
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
  const a = h("a", { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** The download of an account's recovery codes. */
export function recoveryFile(username) {
  return {
    filename: `shop-recovery-codes-${username}.txt`,
    lines: [
      `Recovery codes of ${username} for the Shop console (${location.origin}).`,
      "Each code signs you in once, instead of a code from your authenticator app.",
    ],
  };
}

/**
 * The codes with what they are for (`about`), and when `file` (`{filename, lines}`) is
 * given a button that downloads them; with `copy`, a button that copies them to the
 * clipboard. With `keep`, a form that asks for a tick ("I have
 * saved them") before `keep.done(alert)` runs; until then, leaving the page asks first.
 * Returns `{shown, form}`: the page puts them where it wants.
 */
export function shownOnce({ codes, about, file = null, copy = false, keep = null }) {
  const list = codes.length === 1
    ? h("p", {}, h("code", { class: "shown-code" }, codes[0]))
    : h("ol", { class: "codes" }, codes.map((c) => h("li", {}, h("code", {}, c))));
  let save = null;
  if (file) {
    save = h("button", { type: "button", class: "secondary" }, "Download as text");
    save.addEventListener("click", () => download(file.filename, file.lines, codes));
  }
  let copied = null;
  if (copy) copied = copyButton(codes.join("\n"));
  const buttons = [copied?.button, save].filter(Boolean);
  const shown = [h("p", {}, about), list, buttons.length ? h("div", { class: "actions" }, buttons) : null, copied?.status]
    .filter(Boolean);
  return { shown, form: keep ? keepForm(keep) : null };
}

/** A button that puts `text` on the clipboard, and the status line that says it did. */
function copyButton(text) {
  const status = h("p", { class: "hint", role: "status" });
  const button = h("button", { type: "button", class: "secondary" }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      status.textContent = "Copied.";
    } catch {
      status.textContent = "This browser did not allow copying: select the text and copy it, or download it.";
    }
  });
  return { button, status };
}

function keepForm({ label, submitLabel, question, onLeave, done, unticked = "Tick the box once the recovery codes are somewhere safe." }) {
  let saved = false;
  onLeave(() => (saved ? null : question));
  const box = uid("saved");
  const tick = h("input", { type: "checkbox", id: box, "aria-describedby": `${box}-error` });
  const tickError = h("p", { class: "field-error", id: `${box}-error`, hidden: true },
    unticked);
  tick.addEventListener("change", () => {
    tickError.hidden = true;
  });
  const alert = alertBox();
  const next = h("button", { type: "submit" }, submitLabel);
  const form = h("form", { method: "post", novalidate: true }, alert.element,
    h("div", { class: "choice" }, tick, h("label", { for: box }, label)),
    tickError, h("div", { class: "actions" }, next));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!tick.checked) {
      tickError.hidden = false;
      tick.focus();
      return;
    }
    saved = true;
    busy(next, async () => {
      alert.clear();
      await done(alert);
    });
  });
  return form;
}
