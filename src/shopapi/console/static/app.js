// The console: its routes, the navigation bar, and what happens when a session ends.
import { reloadUser } from "./api.js";
import { can } from "./roles.js";
import { createRouter } from "./router.js";
import { session } from "./session.js";
import { h } from "./ui.js";
import account, { signOut } from "./pages/account.js";
import * as admin from "./pages/admin.js";
import * as apiKeys from "./pages/api-keys.js";
import authenticator from "./pages/authenticator.js";
import deleteAccount from "./pages/delete-account.js";
import history from "./pages/history.js";
import notFound from "./pages/not-found.js";
import productEdit from "./pages/product-edit.js";
import productImport from "./pages/product-import.js";
import productNew from "./pages/product-new.js";
import product from "./pages/product.js";
import * as passkeys from "./pages/passkeys.js";
import password from "./pages/password.js";
import products from "./pages/products.js";
import recoveryCodes from "./pages/recovery-codes.js";
import * as reservations from "./pages/reservations.js";
import register from "./pages/register.js";
import securityLog from "./pages/security-log.js";
import sessions from "./pages/sessions.js";
import stock from "./pages/stock.js";
import * as webhooks from "./pages/webhooks.js";
import signIn, { reauthenticate } from "./pages/sign-in.js";

const routes = [
  { path: "/sign-in", page: signIn, title: "Sign in" },
  { path: "/register", page: register, title: "Create an account" },
  { path: "/products", page: products, title: "Products" },
  { path: "/products/new", page: productNew, title: "New product" },
  { path: "/products/import", page: productImport, title: "Import products" },
  { path: "/products/:id", page: product, title: "Product" },
  { path: "/products/:id/edit", page: productEdit, title: "Edit product" },
  { path: "/products/:id/history", page: history, title: "Product history" },
  { path: "/products/:id/stock", page: stock, title: "Stock" },
  { path: "/reservations", page: reservations.list, title: "Reservations" },
  { path: "/reservations/:id", page: reservations.one, title: "Reservation" },
  { path: "/account", page: account, title: "Your account" },
  { path: "/account/sessions", page: sessions, title: "Sessions" },
  { path: "/account/password", page: password, title: "Change password" },
  { path: "/account/authenticator", page: authenticator, title: "Replace authenticator" },
  { path: "/account/passkeys", page: passkeys.list, title: "Passkeys" },
  { path: "/account/passkeys/new", page: passkeys.add, title: "Add a passkey" },
  { path: "/account/passkeys/:id", page: passkeys.one, title: "Passkey" },
  { path: "/account/api-keys", page: apiKeys.list, title: "API keys" },
  { path: "/account/api-keys/new", page: apiKeys.add, title: "Create an API key" },
  { path: "/account/recovery-codes", page: recoveryCodes, title: "New recovery codes" },
  { path: "/account/events", page: securityLog, title: "Security log" },
  { path: "/account/delete", page: deleteAccount, title: "Delete account" },
  { path: "/admin/users", page: admin.users, title: "Users" },
  { path: "/admin/users/:id", page: admin.user, title: "User" },
  { path: "/admin/service-accounts", page: admin.serviceAccounts, title: "Service accounts" },
  { path: "/admin/users/:id/api-keys/new", page: admin.newKey, title: "New API key" },
  { path: "/admin/invites", page: admin.invites, title: "Invites" },
  { path: "/admin/webhooks", page: webhooks.list, title: "Webhooks" },
  { path: "/admin/webhooks/new", page: webhooks.add, title: "Add a webhook endpoint" },
  { path: "/admin/webhooks/:id", page: webhooks.one, title: "Webhook endpoint" },
  { path: "/admin/events", page: admin.events, title: "Security log of all accounts" },
];
const HOME = "#/products";

const router = createRouter({
  routes,
  outlet: document.getElementById("main"),
  notFound,
  guard(route, path) {
    if (path === "/") return session.signedIn ? HOME : "#/sign-in";
    if (route.page.auth && !session.signedIn) {
      signIn.returnTo(location.hash);
      return "#/sign-in";
    }
    // The role may have changed since the last page (an admin's doing): ask again, beside
    // the page's own requests; the navigation bar and role-aware pages follow the answer.
    if (session.signedIn) reloadUser();
    return null;
  },
});

function link(label, hash) {
  const here = location.hash === hash || location.hash.startsWith(`${hash}/`);
  return h("li", {}, h("a", { href: hash, "aria-current": here ? "page" : null }, label));
}

function drawNav() {
  const nav = document.getElementById("nav");
  if (session.signedIn) {
    const who = session.user ? h("li", { class: "who" }, `Signed in as ${session.user.username}`) : null;
    const button = h("button", { type: "button", class: "link-button" }, "Sign out");
    button.addEventListener("click", () => signOut(router.navigate));
    const administration = can("administer") ? link("Administration", "#/admin/users") : null;
    const held = can("hold stock") ? link("Reservations", "#/reservations") : null;
    nav.replaceChildren(
      h("ul", {}, link("Products", "#/products"), held, link("Your account", "#/account"), administration, who, h("li", {}, button)),
    );
  } else {
    nav.replaceChildren(h("ul", {}, link("Sign in", "#/sign-in"), link("Create an account", "#/register")));
  }
}

session.onChange((reason) => {
  drawNav();
  // The service refused the token (it ran out, or the session was ended elsewhere): sign
  // in again over the page, so a form being filled in keeps what was typed.
  if (reason === "expired") {
    reauthenticate(() => {
      if (!router.current?.route.page.keepsInput) router.refresh();
    });
  }
});
window.addEventListener("hashchange", drawNav);

document.getElementById("skip-link").addEventListener("click", (event) => {
  event.preventDefault(); // "#main" is not a route
  document.getElementById("main").focus();
});

drawNav();
router.start();
