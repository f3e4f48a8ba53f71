// Shared by the portal's pages: calls to the registry, and WebAuthn (passkeys) with plain
// navigator.credentials (W3C WebAuthn Level 2). No framework, no inline scripts (CSP).
export const b64uToBytes = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4)), (c) => c.charCodeAt(0));
export const bytesToB64u = (b) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** A portal JSON call; resolves with the body, rejects with an Error carrying the registry's code. */
export async function api(path, body) {
  const init = body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  const r = await fetch(path, { credentials: "same-origin", ...init });
  const j = await r.json().catch(() => ({ ok: false, code: `HTTP_${r.status}`, message: r.statusText }));
  if (!r.ok || j.ok !== true) throw Object.assign(new Error(j.message || `HTTP ${r.status}`), { code: j.code || `HTTP_${r.status}` });
  return j;
}

function credentialJson(c) {
  const r = c.response;
  const out = { id: c.id, rawId: bytesToB64u(c.rawId), type: c.type, clientExtensionResults: c.getClientExtensionResults(), response: { clientDataJSON: bytesToB64u(r.clientDataJSON) } };
  if (r.attestationObject) {
    out.response.attestationObject = bytesToB64u(r.attestationObject);
    out.response.transports = r.getTransports ? r.getTransports() : [];
  } else {
    out.response.authenticatorData = bytesToB64u(r.authenticatorData);
    out.response.signature = bytesToB64u(r.signature);
    if (r.userHandle) out.response.userHandle = bytesToB64u(r.userHandle);
  }
  return out;
}

/** Creates a passkey from the registry's creation options (JSON form). */
export async function createPasskey(o) {
  const publicKey = {
    ...o,
    challenge: b64uToBytes(o.challenge),
    user: { ...o.user, id: b64uToBytes(o.user.id) },
    excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: b64uToBytes(c.id) })),
  };
  return credentialJson(await navigator.credentials.create({ publicKey }));
}

/** An assertion over `challenge` (base64url), by `credentialId` if given. */
export async function assert(challenge, credentialId, rpId) {
  const publicKey = { challenge: b64uToBytes(challenge), userVerification: "preferred", timeout: 120000 };
  if (rpId) publicKey.rpId = rpId;
  if (credentialId) publicKey.allowCredentials = [{ type: "public-key", id: b64uToBytes(credentialId) }];
  return credentialJson(await navigator.credentials.get({ publicKey }));
}

/**
 * One owner request, signed with the passkey (docs/PORTAL.md §3): the registry builds the
 * request-payload, the passkey signs its hash as the WebAuthn challenge, and the pair goes to
 * POST /antitheft/v1/requests as application/json.
 */
export async function signedRequest(fields) {
  const p = await api("/portal/api/prepare", fields);
  const credential = await assert(p.challenge, p.credentialId);
  const r = await fetch("/antitheft/v1/requests", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ payload: p.payload, credential }) });
  const j = await r.json();
  if (!r.ok || j.ok !== true) throw Object.assign(new Error(j.message || `HTTP ${r.status}`), { code: j.code });
  return j;
}

/** Writes a message into a live region (role="status" / "alert"). */
export function say(el, text, error = false) {
  el.textContent = text;
  el.classList.toggle("error", error);
}

export const errorText = (e) => (e && e.code ? `${e.code}: ${e.message}` : String(e && e.message ? e.message : e));
