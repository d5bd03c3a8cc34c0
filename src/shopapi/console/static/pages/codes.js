// Recovery codes: shown once, as a list to copy and a text file to download.
import { h } from "../ui.js";

export function download(codes, username) {
  const text = [
    `Recovery codes of ${username} for the Shop console (${location.origin}).`,
    "Each code signs you in once, instead of a code from your authenticator app.",
    "",
    ...codes,
    "",
  ].join("\n");
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
  const a = h("a", { href: url, download: `shop-recovery-codes-${username}.txt`, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function codeList(codes) {
  return h("ol", { class: "codes" }, codes.map((c) => h("li", {}, h("code", {}, c))));
}
