// Passkeys in the browser: the API's WebAuthn JSON forms (bytes in base64url) to the
// options navigator.credentials wants, and its answers back to JSON. Browsers that know
// WebAuthn Level 3 do the conversion themselves (parse...FromJSON, toJSON()); for the
// others the few byte fields are converted here.

/** The browser can make and use passkeys (it needs https, or http://localhost). */
export function passkeysSupported() {
  return Boolean(window.isSecureContext && window.PublicKeyCredential && navigator.credentials);
}

function fromBase64url(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), "="));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
}

function toBase64url(buffer) {
  if (buffer === null || buffer === undefined) return null;
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const descriptors = (list) => (list || []).map((d) => ({ ...d, id: fromBase64url(d.id) }));

function creationOptions(json) {
  if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: fromBase64url(json.challenge),
    user: { ...json.user, id: fromBase64url(json.user.id) },
    excludeCredentials: descriptors(json.excludeCredentials),
  };
}

function requestOptions(json) {
  if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
    return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  }
  return { ...json, challenge: fromBase64url(json.challenge), allowCredentials: descriptors(json.allowCredentials) };
}

function credentialJSON(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const r = credential.response;
  const response = { clientDataJSON: toBase64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toBase64url(r.attestationObject);
    response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
  } else {
    response.authenticatorData = toBase64url(r.authenticatorData);
    response.signature = toBase64url(r.signature);
    response.userHandle = toBase64url(r.userHandle);
  }
  return {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment ?? null,
    response,
    clientExtensionResults: credential.getClientExtensionResults(),
  };
}

// What the browser's refusals mean to the person at the page.
const REFUSALS = {
  NotAllowedError: "The passkey was not used: it was cancelled, or no answer came in time.",
  InvalidStateError: "This device already holds a passkey of your account.",
  SecurityError: "This address cannot use passkeys: the service's passkey settings name another site.",
  NotSupportedError: "This browser or device cannot make a passkey of the kind the service asks for.",
};

function refusal(error) {
  if (error.name === "AbortError") return error;
  const message = REFUSALS[error.name] || `The browser refused the passkey (${error.message || error.name}).`;
  const wrapped = new Error(message);
  wrapped.name = "PasskeyError";
  return wrapped;
}

async function ask(operation) {
  if (!passkeysSupported()) {
    const error = new Error("This browser cannot use passkeys here (they need https, or http://localhost).");
    error.name = "PasskeyError";
    throw error;
  }
  let credential;
  try {
    credential = await operation();
  } catch (error) {
    throw refusal(error);
  }
  if (!credential) throw refusal({ name: "NotAllowedError" });
  return credentialJSON(credential);
}

/** A new passkey from the creation options of the API: its RegistrationResponseJSON. */
export function createPasskey(optionsJSON) {
  return ask(() => navigator.credentials.create({ publicKey: creationOptions(optionsJSON) }));
}

/** A signature over the request options of the API: its AuthenticationResponseJSON. */
export function usePasskey(optionsJSON) {
  return ask(() => navigator.credentials.get({ publicKey: requestOptions(optionsJSON) }));
}
