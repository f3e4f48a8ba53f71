// Claim codes (docs/PROTOCOL.md §6.2, "Claim codes"): the registry issues a short, single-use,
// expiring code to the owner key that asked for it; the owner types it on the handset, whose
// Trusted App signs a registration-purpose token (EAT intuse 2, RFC 9711 §4.3.3) with
//   nonce = SHA-512("antitheft/v1/claim" || code)[0..32],
// and the owner's claim carries the code and that proof. Codes are 10 characters of Crockford's
// base32 (50 bits), shown as XXXXX-XXXXX; input is forgiving (case, hyphens, spaces, O = 0,
// I = L = 1) and normalised before it is hashed or looked up, so a code typed by hand works.
import { createHash, randomBytes } from "node:crypto";

export const CLAIM_CODE_CHARS = 10;
/** Crockford's base32 alphabet: no I, L, O, U (read alike or by accident). */
export const CLAIM_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CLAIM_LABEL = "antitheft/v1/claim";

export class ClaimCodeError extends Error {
  readonly code = "E_CLAIM_CODE_FORMAT";
  constructor(message: string) {
    super(message);
    this.name = "ClaimCodeError";
  }
}

/** A fresh code: 10 characters of 5 random bits each (50 bits; a bias-free 5-bit draw). */
export function newClaimCode(random: (n: number) => Uint8Array = (n) => new Uint8Array(randomBytes(n))): string {
  const r = random(CLAIM_CODE_CHARS);
  let s = "";
  for (let i = 0; i < CLAIM_CODE_CHARS; i++) s += CLAIM_CODE_ALPHABET[r[i]! & 31];
  return s;
}

/** The canonical form (10 upper-case alphabet characters) of a typed code; ClaimCodeError if it is not one. */
export function normalizeClaimCode(typed: string): string {
  if (typeof typed !== "string" || typed.length > 64) throw new ClaimCodeError("a claim code is 10 characters (XXXXX-XXXXX)");
  const s = typed.toUpperCase().replace(/[\s-]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
  if (s.length !== CLAIM_CODE_CHARS || ![...s].every((c) => CLAIM_CODE_ALPHABET.includes(c))) {
    throw new ClaimCodeError(`a claim code is ${CLAIM_CODE_CHARS} characters of ${CLAIM_CODE_ALPHABET} (XXXXX-XXXXX)`);
  }
  return s;
}

/** XXXXX-XXXXX, as shown to the owner. */
export function formatClaimCode(code: string): string {
  const c = normalizeClaimCode(code);
  return `${c.slice(0, 5)}-${c.slice(5)}`;
}

/** §6.2: the nonce of a claim proof, SHA-512("antitheft/v1/claim" || canonical code)[0..32]. */
export function claimNonce(code: string): Uint8Array {
  const h = createHash("sha512").update(CLAIM_LABEL).update(normalizeClaimCode(code), "utf8").digest();
  return new Uint8Array(h.subarray(0, 32));
}
