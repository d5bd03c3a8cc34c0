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
  if (!type.includes("json")) return null;
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/**
 * Send one request. Resolves to `{status, body, headers}` for 2xx, throws ApiError
 * otherwise. A 401 on a signed-in request means the token is no longer good.
 * `options`: body (sent as JSON), headers, signal (AbortSignal), signedIn (send the
 * token; default true), endsSession (the request signs out).
 */
export async function call(method, path, options = {}) {
  const { body, headers = {}, signal, signedIn = true, endsSession = false } = options;
  const init = { method, signal, headers: { Accept: "application/json", ...headers } };
  init.cache = "no-store";
  init.credentials = "omit"; // the token is the only credential; no cookie is involved
  const token = signedIn ? session.token : null;
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, UNREACHABLE);
  }
  const data = await readBody(response);
  if (response.ok) return { status: response.status, body: data, headers: response.headers };
  const problem =
    data && typeof data === "object" && !Array.isArray(data)
      ? data
      : { detail: `The service answered ${response.status} ${response.statusText}.` };
  // (Unless the request was to end the session anyway: then a 401 says it is over.)
  if (response.status === 401 && token && !endsSession && session.token === token) session.expire();
  throw new ApiError(response.status, problem, response.headers);
}

const enc = encodeURIComponent;

export const auth = {
  register: (username, password) =>
    call("POST", "/auth/register", { body: { username, password }, signedIn: false }),
  login: (username, password) =>
    call("POST", "/auth/login", { body: { username, password }, signedIn: false }),
  /** `code` is `{otp}` or `{recovery_code}`. */
  verify: (mfaToken, code) =>
    call("POST", "/auth/verify", { body: { mfa_token: mfaToken, ...code }, signedIn: false }),
  me: (options) => call("GET", "/auth/me", options),
  logout: () => call("POST", "/auth/logout", { endsSession: true }),
};

export const products = {
  page: ({ limit, cursor }, options) => {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set("cursor", cursor);
    return call("GET", `/api/products?${query}`, options);
  },
  get: (id, options) => call("GET", `/api/products/${enc(id)}`, options),
  create: (fields, idempotencyKey) =>
    call("POST", "/api/products", { body: fields, headers: { "Idempotency-Key": idempotencyKey } }),
  replace: (id, fields, etag) =>
    call("PUT", `/api/products/${enc(id)}`, { body: fields, headers: { "If-Match": etag } }),
  remove: (id, etag) => call("DELETE", `/api/products/${enc(id)}`, { headers: { "If-Match": etag } }),
  history: (id, options) => call("GET", `/api/products/${enc(id)}/history`, options),
};

/** A random UUID (v4), also where crypto.randomUUID is missing (plain-HTTP deployments). */
export function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
