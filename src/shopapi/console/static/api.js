// The service's public API, as any client calls it: JSON bodies, the access token in the
// Authorization header, errors as RFC 9457 problem details.
import { session } from "./session.js";

/** An answer other than 2xx; `problem` is the problem+json body (or one made up). */
export class ApiError extends Error {
  constructor(status, problem, headers = new Headers()) {
    super(problem.detail || problem.title || `The service answered ${status}.`);
    this.name = "ApiError";
    this.status = status;
    this.problem = problem;
    this.errors = problem.errors && typeof problem.errors === "object" ? problem.errors : {};
    this.headers = headers;
  }
}

const UNREACHABLE = {
  title: "Service unreachable",
  detail: "The service could not be reached. Check the connection and try again.",
};

async function readBody(response) {
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  if (type.startsWith("text/csv")) return response.text();
  if (!type.includes("json")) return null;
  try {
    return await response.json();
  } catch (error) {
    // The page moved on while the body was arriving: that is no answer at all.
    if (error.name === "AbortError") throw error;
    return null;
  }
}

async function send(method, path, { body, text, headers = {}, signal }, token) {
  const init = { method, signal, headers: { Accept: "application/json", ...headers } };
  init.cache = "no-store";
  init.credentials = "omit"; // the tokens are the only credentials; no cookie is involved
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (text !== undefined) {
    // A file as it is (a CSV import): `text` is {content, type}.
    init.headers["Content-Type"] = text.type;
    init.body = text.content;
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, UNREACHABLE);
  }
  return { response, data: await readBody(response) };
}

function failure(response, data) {
  const problem =
    data && typeof data === "object" && !Array.isArray(data)
      ? data
      : { detail: `The service answered ${response.status} ${response.statusText}.` };
  return new ApiError(response.status, problem, response.headers);
}

// The one refresh in flight. A refresh token works once: two refreshes with it would be
// taken for a stolen token and end the session, so every request that meets a 401 while
// a refresh runs waits for that refresh instead of starting its own.
let refreshing = null;

/**
 * New tokens for the session whose access token `stale` was refused. Resolves true when
 * the session has a newer access token (refreshed now, or already by another request),
 * false when the service ended the session. No page's AbortSignal: a refresh that
 * started must finish, or its new refresh token would be lost.
 */
function renewAfter(stale) {
  if (session.token !== stale) return Promise.resolve(session.token !== null);
  if (!refreshing) {
    const presented = session.refreshToken;
    refreshing = (async () => {
      if (!presented) return false;
      const { response, data } = await send("POST", "/auth/refresh", { body: { refresh_token: presented } });
      if (response.ok && session.refreshToken === presented) {
        session.renew(data);
        return true;
      }
      if (response.status === 401) return false;
      throw failure(response, data); // 429, 503: the session may still be alive
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

/**
 * Send one request. Resolves to `{status, body, headers}` for 2xx, throws ApiError
 * otherwise. A signed-in request refused with 401 (its access token ran out) is sent
 * once more after the session's refresh; when the refresh is refused too, the session
 * is over. `options`: body (sent as JSON), headers, signal (AbortSignal), signedIn (send
 * the token; default true), endsSession (the request signs out, so a 401 is no news).
 */
export async function call(method, path, options = {}) {
  const { signedIn = true, endsSession = false } = options;
  let token = signedIn ? session.token : null;
  let { response, data } = await send(method, path, options, token);
  if (response.status === 401 && token) {
    // A 401 is answered before anything is done, so sending again changes nothing twice.
    if (await renewAfter(token)) {
      token = session.token;
      ({ response, data } = await send(method, path, options, token));
    }
  }
  if (response.ok) return { status: response.status, body: data, headers: response.headers };
  if (response.status === 401 && token && !endsSession && session.token === token) session.expire();
  throw failure(response, data);
}

const enc = encodeURIComponent;

export const auth = {
  register: (username, password) =>
    call("POST", "/auth/register", { body: { username, password }, signedIn: false }),
  login: (username, password) => {
    const body = { username, password };
    if (session.deviceToken) body.device_token = session.deviceToken;
    return call("POST", "/auth/login", { body, signedIn: false });
  },
  /** `code` is `{otp}` or `{recovery_code}`. */
  verify: (mfaToken, code) =>
    call("POST", "/auth/verify", { body: { mfa_token: mfaToken, ...code }, signedIn: false }),
  /** The request options of a passkey sign-in, bound to the mfa_token. */
  passkeySignInOptions: (mfaToken) =>
    call("POST", "/auth/verify/passkey-options", { body: { mfa_token: mfaToken }, signedIn: false }),
  me: (options) => call("GET", "/auth/me", options),
  logout: () => call("POST", "/auth/logout", { endsSession: true }),
  sessions: (options) => call("GET", "/auth/sessions", options),
  endSession: (id) => call("DELETE", `/auth/sessions/${enc(id)}`),
  endAllSessions: () => call("DELETE", "/auth/sessions", { endsSession: true }),
  /** `proof` is `{password, otp}` or `{password, recovery_code}` (see Account care). */
  changePassword: (newPassword, proof) =>
    call("POST", "/auth/password", { body: { new_password: newPassword, ...proof } }),
  newRecoveryCodes: (proof) => call("POST", "/auth/recovery-codes", { body: proof }),
  newTotp: (proof) => call("POST", "/auth/totp", { body: proof }),
  confirmTotp: (enrollmentToken, otp) =>
    call("POST", "/auth/totp/confirm", { body: { enrollment_token: enrollmentToken, otp } }),
  deleteMe: (proof) => call("DELETE", "/auth/me", { body: proof, endsSession: true }),
  events: ({ limit, cursor }, options) => call("GET", `/auth/events?${pageQuery(limit, cursor)}`, options),
  passkeys: (options) => call("GET", "/auth/passkeys", options),
  passkeyOptions: (proof) => call("POST", "/auth/passkeys/options", { body: proof }),
  addPasskey: (name, credential) => call("POST", "/auth/passkeys", { body: { name, credential } }),
  renamePasskey: (id, name) => call("PATCH", `/auth/passkeys/${enc(id)}`, { body: { name } }),
  removePasskey: (id, proof) => call("DELETE", `/auth/passkeys/${enc(id)}`, { body: proof }),
  apiKeys: (options) => call("GET", "/auth/api-keys", options),
  /** `key` is `{name, scopes, expires_in}`; the answer holds the key itself, once. */
  createApiKey: (key, proof) => call("POST", "/auth/api-keys", { body: { ...key, ...proof } }),
  revokeApiKey: (id) => call("DELETE", `/auth/api-keys/${enc(id)}`),
};

export const admin = {
  users: ({ limit, cursor }, options) => call("GET", `/admin/users?${pageQuery(limit, cursor)}`, options),
  user: (id, options) => call("GET", `/admin/users/${enc(id)}`, options),
  change: (id, fields) => call("PATCH", `/admin/users/${enc(id)}`, { body: fields }),
  unlock: (id) => call("POST", `/admin/users/${enc(id)}/unlock`),
  resetTotp: (id) => call("POST", `/admin/users/${enc(id)}/reset-totp`),
  createServiceAccount: (username, role) => call("POST", "/admin/service-accounts", { body: { username, role } }),
  apiKeys: (id, options) => call("GET", `/admin/users/${enc(id)}/api-keys`, options),
  createApiKey: (id, key) => call("POST", `/admin/users/${enc(id)}/api-keys`, { body: key }),
  revokeApiKey: (id, keyId) => call("DELETE", `/admin/users/${enc(id)}/api-keys/${enc(keyId)}`),
  invite: (role, expiresIn) => call("POST", "/admin/invites", { body: { role, expires_in: expiresIn } }),
  events: ({ limit, cursor, userId, type }, options) => {
    const query = pageQuery(limit, cursor);
    if (userId) query.set("user_id", userId);
    if (type) query.set("type", type);
    return call("GET", `/admin/events?${query}`, options);
  },
};

/** Webhook endpoints (admins only) and their deliveries; see the API's Webhooks section. */
export const webhooks = {
  page: ({ limit, cursor }, options) => call("GET", `/admin/webhooks?${pageQuery(limit, cursor)}`, options),
  get: (id, options) => call("GET", `/admin/webhooks/${enc(id)}`, options),
  /** `endpoint` is `{url, events, description?}`; the answer holds the secret, once. */
  create: (endpoint) => call("POST", "/admin/webhooks", { body: endpoint }),
  change: (id, fields) => call("PATCH", `/admin/webhooks/${enc(id)}`, { body: fields }),
  remove: (id) => call("DELETE", `/admin/webhooks/${enc(id)}`),
  rotateSecret: (id) => call("POST", `/admin/webhooks/${enc(id)}/rotate-secret`),
  deliveries: (id, { limit, cursor, status }, options) => {
    const query = pageQuery(limit, cursor);
    if (status) query.set("status", status);
    return call("GET", `/admin/webhooks/${enc(id)}/deliveries?${query}`, options);
  },
  retry: (id, deliveryId) => call("POST", `/admin/webhooks/${enc(id)}/deliveries/${enc(deliveryId)}/retry`),
};

function pageQuery(limit, cursor) {
  const query = new URLSearchParams({ limit: String(limit) });
  if (cursor) query.set("cursor", cursor);
  return query;
}

// Who the service says is signed in, asked again at every page change (an admin may
// have changed the role since): pages that depend on the role await `whoami()`.
let asking = null;
export function reloadUser() {
  asking = call("GET", "/auth/me").then(
    ({ body }) => {
      if (session.signedIn) session.setUser(body);
      return body;
    },
    () => session.user,
  );
  return asking;
}
export function whoami() {
  return asking || reloadUser();
}

// The service's OpenAPI document, asked once per page load: forms take their fields'
// limits from it rather than keeping copies that could drift from the server's.
let described = null;
export function openApi() {
  if (!described) {
    described = call("GET", "/openapi.json", { signedIn: false }).then(({ body }) => body);
    described.catch(() => {
      described = null; // asked again next time
    });
  }
  return described;
}

/** The catalogue's filters and sort as query parameters (empty ones left out). */
export function catalogueQuery(filters = {}) {
  const query = new URLSearchParams();
  for (const name of ["q", "min_price", "max_price", "in_stock", "updated_since", "sort"]) {
    if (filters[name]) query.set(name, filters[name]);
  }
  return query;
}

export const products = {
  page: ({ limit, cursor, ...filters }, options) => {
    const query = catalogueQuery(filters);
    for (const [name, value] of pageQuery(limit, cursor)) query.set(name, value);
    return call("GET", `/api/products?${query}`, options);
  },
  /** The CSV of every product the filters match, in their sort (the body is its text). */
  exportCsv: (filters, options) =>
    call("GET", `/api/products/export.csv?${catalogueQuery(filters)}`, { ...options, headers: { Accept: "text/csv" } }),
  /** Create or update products by SKU from a CSV file; `dryRun` only reports. */
  importCsv: (content, { dryRun, idempotencyKey }) =>
    call("POST", `/api/products/import${dryRun ? "?dry_run=true" : ""}`, {
      text: { content, type: "text/csv; charset=utf-8" },
      headers: { "Idempotency-Key": idempotencyKey },
    }),
  get: (id, options) => call("GET", `/api/products/${enc(id)}`, options),
  create: (fields, idempotencyKey) =>
    call("POST", "/api/products", { body: fields, headers: { "Idempotency-Key": idempotencyKey } }),
  replace: (id, fields, etag) =>
    call("PUT", `/api/products/${enc(id)}`, { body: fields, headers: { "If-Match": etag } }),
  remove: (id, etag) => call("DELETE", `/api/products/${enc(id)}`, { headers: { "If-Match": etag } }),
  history: (id, options) => call("GET", `/api/products/${enc(id)}/history`, options),
};

/** Stock movements of one product (see the API's Stock section). */
export const stock = {
  movements: (id, { limit, cursor }, options) =>
    call("GET", `/api/products/${enc(id)}/stock-movements?${pageQuery(limit, cursor)}`, options),
  /** `movement` is `{delta, reason, note?, expected_quantity?}`. */
  move: (id, movement, idempotencyKey) =>
    call("POST", `/api/products/${enc(id)}/stock-movements`, {
      body: movement,
      headers: { "Idempotency-Key": idempotencyKey },
    }),
};

/** Reservations: stock held for a checkout, then committed (sold) or released. */
export const reservations = {
  page: ({ limit, cursor, status }, options) => {
    const query = pageQuery(limit, cursor);
    if (status) query.set("status", status);
    return call("GET", `/api/reservations?${query}`, options);
  },
  get: (id, options) => call("GET", `/api/reservations/${enc(id)}`, options),
  /** `reservation` is `{items: [{product_id, quantity}], expires_in?, note?}`. */
  create: (reservation, idempotencyKey) =>
    call("POST", "/api/reservations", { body: reservation, headers: { "Idempotency-Key": idempotencyKey } }),
  commit: (id) => call("POST", `/api/reservations/${enc(id)}/commit`),
  release: (id) => call("DELETE", `/api/reservations/${enc(id)}`),
};

/** A random UUID (v4), also where crypto.randomUUID is missing (plain-HTTP deployments). */
export function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
