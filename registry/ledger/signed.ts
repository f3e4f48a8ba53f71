// The one way ledger objects (entries, tree heads) are signed and opened: a COSE_Sign1 (RFC 9052
// §4.2), tag 18, protected {1: -8}, unprotected {4: kid}, over a deterministic CBOR map with text
// keys whose "t" names the object type - so an entry can never pass for a tree head, nor either
// for a command (commands are integer-keyed maps, PROTOCOL.md §5), though one key signs them all.
import type { KeyObject } from "node:crypto";
import { createSign1, decodeSign1, verifySign1Signature, type Signer } from "../../attestation/cose/sign1.js";
import { encodeDeterministic } from "../../attestation/cbor/deterministic.js";
import { decodeStrict } from "../../attestation/cbor/strict.js";
import { isCborMap, type CborMap } from "../../attestation/cbor/value.js";
import { equalBytes } from "../../attestation/bytes.js";
import { accept, refuse, type Checked } from "./errors.js";

/** Ledger objects stay far below the MQTT payload limit (PROTOCOL.md §2). */
export const MAX_OBJECT_BYTES = 4096;

export function signObject(payload: Record<string, unknown>, signer: Signer, kid: Uint8Array): Uint8Array {
  return createSign1(encodeDeterministic(payload), signer, { kid, cwtTag: false });
}

/**
 * Decodes a signed ledger object from hostile bytes and checks its signature under `key`, whose
 * kid must be the one in the header. Never throws.
 */
export function openObject(bytes: unknown, type: string, key: KeyObject, kid: Uint8Array): Checked<CborMap> {
  const peeked = peekObject(bytes, type);
  if (!peeked.ok) return peeked;
  const { sign1, payload } = peeked.value;
  if (!sign1.kid || !equalBytes(sign1.kid, kid)) return refuse("E_LEDGER_LOG", "the kid in the header is not the log's");
  try {
    verifySign1Signature(sign1, key);
  } catch {
    return refuse("E_LEDGER_SIGNATURE");
  }
  return accept(payload);
}

/** The structure of a signed ledger object, signature NOT checked (to learn which key to check it with). Never throws. */
export function peekObject(bytes: unknown, type: string): Checked<{ sign1: ReturnType<typeof decodeSign1>; payload: CborMap }> {
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_OBJECT_BYTES) return refuse("E_LEDGER_SHAPE", `expected at most ${MAX_OBJECT_BYTES} bytes`);
  try {
    const sign1 = decodeSign1(bytes, { strict: { maxBytes: MAX_OBJECT_BYTES, maxDepth: 4, maxItems: 64 } });
    if (sign1.cwtTag) return refuse("E_LEDGER_SHAPE", "a ledger object is a bare COSE_Sign1 (tag 18), not a CWT");
    const payload = decodeStrict(sign1.payload, { maxBytes: MAX_OBJECT_BYTES, maxDepth: 3, maxItems: 64 });
    if (!isCborMap(payload)) return refuse("E_LEDGER_SHAPE", "the payload is not a map");
    if (payload.get("v") !== 1) return refuse("E_LEDGER_SHAPE", "v must be 1");
    if (payload.get("t") !== type) return refuse("E_LEDGER_SHAPE", `t must be "${type}"`);
    return accept({ sign1, payload });
  } catch (e) {
    return refuse("E_LEDGER_SHAPE", (e as Error).message);
  }
}

/** Field readers for payload validation: undefined when the field is absent or mistyped. */
export const field = {
  uint(m: CborMap, k: string): number | undefined {
    const v = m.get(k);
    return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  },
  bytes(m: CborMap, k: string, length: number): Uint8Array | undefined {
    const v = m.get(k);
    return v instanceof Uint8Array && v.length === length ? v : undefined;
  },
  text(m: CborMap, k: string, allowed: readonly string[]): string | undefined {
    const v = m.get(k);
    return typeof v === "string" && allowed.includes(v) ? v : undefined;
  },
  /** true when the map has exactly the required keys plus any of the optional ones. */
  keys(m: CborMap, required: readonly string[], optional: readonly string[] = []): boolean {
    for (const k of required) if (!m.has(k)) return false;
    for (const k of m.keys()) if (typeof k !== "string" || (!required.includes(k) && !optional.includes(k))) return false;
    return true;
  },
};
