// Who is signed in. The access token lives in this module's memory only: never in
// localStorage, sessionStorage or a cookie, so it is gone when the tab closes or reloads.

const state = { token: null, user: null, timer: null };
const listeners = new Set();

function notify(reason) {
  for (const listener of listeners) listener(reason);
}

export const session = {
  get token() {
    return state.token;
  },

  get signedIn() {
    return state.token !== null;
  },

  /** The account of the token (`/auth/me`), once known. */
  get user() {
    return state.user;
  },

  /** Keep an access token valid for `expiresIn` seconds. */
  start(token, expiresIn) {
    clearTimeout(state.timer);
    state.token = token;
    state.user = null;
    // A few seconds early: a request sent at the last moment would meet a dead token.
    const lifetime = Math.max(1, Number(expiresIn) - 5) * 1000;
    state.timer = setTimeout(() => session.expire(), lifetime);
    notify("signed-in");
  },

  setUser(user) {
    state.user = user;
    notify("user");
  },

  /** Forget the token because the user signed out. */
  end() {
    clearTimeout(state.timer);
    state.token = null;
    state.user = null;
    notify("signed-out");
  },

  /** Forget the token because the service no longer accepts it (or it ran out). */
  expire() {
    if (state.token === null) return;
    clearTimeout(state.timer);
    state.token = null;
    notify("expired");
  },

  /** Call `listener(reason)` on every change; returns a function that stops it. */
  onChange(listener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};
