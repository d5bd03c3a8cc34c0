// Who is signed in. The tokens live in this module's memory only: never in localStorage,
// sessionStorage or a cookie, so they are gone when the tab closes or reloads. (Not
// sessionStorage: a duplicated tab would copy the refresh token, and the second tab to
// use it would be taken for a thief, ending the session of both.)

const state = { token: null, refreshToken: null, deviceToken: null, user: null };
const listeners = new Set();

function notify(reason) {
  for (const listener of listeners) listener(reason);
}

export const session = {
  get token() {
    return state.token;
  },

  /** Single-use: each refresh hands out the next one (see api.js). */
  get refreshToken() {
    return state.refreshToken;
  },

  /** Sent at the next sign-in from this tab, so a lockout by others does not lock us out. */
  get deviceToken() {
    return state.deviceToken;
  },

  get signedIn() {
    return state.token !== null;
  },

  /** The account of the token (`/auth/me`), once known. */
  get user() {
    return state.user;
  },

  /** Keep the tokens of a sign-in (the answer of /auth/verify). */
  start(tokens) {
    state.token = tokens.access_token;
    state.refreshToken = tokens.refresh_token || null;
    if (tokens.device_token) state.deviceToken = tokens.device_token;
    state.user = null;
    notify("signed-in");
  },

  /** The answer of /auth/refresh: the same session, new tokens. */
  renew(tokens) {
    state.token = tokens.access_token;
    state.refreshToken = tokens.refresh_token;
  },

  setUser(user) {
    state.user = user;
    notify("user");
  },

  /** Forget the tokens because the user signed out. */
  end() {
    state.token = null;
    state.refreshToken = null;
    state.user = null;
    notify("signed-out");
  },

  /** Forget the tokens because the service no longer accepts them. */
  expire() {
    if (state.token === null) return;
    state.token = null;
    state.refreshToken = null;
    notify("expired");
  },

  /** Call `listener(reason)` on every change; returns a function that stops it. */
  onChange(listener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};
