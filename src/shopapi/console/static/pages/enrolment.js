// The authenticator enrolment the API hands out: the QR code to scan, or the key to type.
import { h } from "../ui.js";

/** `totp` is the API's `{secret, otpauth_uri, qr_code}`. */
export function enrolment(totp, username) {
  // The QR code must be an image the API made, never a link to anywhere else.
  const qr = String(totp.qr_code).startsWith("data:image/png;base64,")
    ? h("img", { class: "qr", src: totp.qr_code, alt: `QR code that adds ${username} to an authenticator app` })
    : null;
  return h(
    "div",
    { class: "enrolment" },
    qr,
    h(
      "div",
      {},
      h("p", {}, "Scan the QR code with Google Authenticator or any authenticator app (Authy, 1Password, FreeOTP…)."),
      h("p", {}, "Cannot scan it? Choose “Enter a setup key” in the app, pick “Time based”, and type this key:"),
      h("p", {}, h("code", { class: "secret" }, totp.secret)),
    ),
  );
}
