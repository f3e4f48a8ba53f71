// Witness cosignatures (C2SP tlog-cosignature, Ed25519 "cosignature/v1"): a note signature line
// on a checkpoint, key ID = SHA-256(name || 0x0A || 0x04 || public key)[:4], signature =
// timestamp (u64 big-endian, POSIX seconds) || Ed25519 signature of
//   "cosignature/v1\n" || "time <timestamp>\n" || the checkpoint's note text.
// A cosigner verifier key is "<name>+<key ID hex>+base64(0x04 || public key)" (signed-note vkeys).
import { createHash, verify as edVerify, type KeyObject } from "node:crypto";
import type { Signer } from "../../attestation/cose/sign1.js";
import { publicKeyFromRaw, toHex } from "../../attestation/index.js";
import { ed25519KeyProblem, KEY_PROBLEM_TEXT } from "../key-validity.js";
import { accept, refuse, type Checked } from "./errors.js";
import { isKeyName, SIG_COSIGNATURE_V1, type NoteSigner, type NoteVerifier } from "./note.js";

const utf8 = new TextEncoder();

export function cosignatureKeyId(name: string, publicKey: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(utf8.encode(name)).update(Uint8Array.of(0x0a, SIG_COSIGNATURE_V1)).update(publicKey).digest().subarray(0, 4));
}

/** The message a cosignature/v1 signs. */
export function cosignedMessage(text: Uint8Array, timestamp: number): Uint8Array {
  const head = utf8.encode(`cosignature/v1\ntime ${timestamp}\n`);
  const out = new Uint8Array(head.length + text.length);
  out.set(head);
  out.set(text, head.length);
  return out;
}

/** The timestamp of a cosignature (the 8 bytes after the key ID), or undefined. */
export function cosignatureTime(sig: Uint8Array): number | undefined {
  if (sig.length !== 72) return undefined;
  const t = new DataView(sig.buffer, sig.byteOffset, 8).getBigUint64(0);
  return t <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(t) : undefined;
}

export interface Cosigner extends NoteVerifier {
  readonly publicKey: Uint8Array;
  /** The last timestamp verified (for freshness checks by the caller). */
}

/** A verifier of one cosigner's cosignature/v1 lines. */
export function cosignatureVerifier(name: string, publicKey: Uint8Array): Cosigner {
  if (!isKeyName(name) || publicKey.length !== 32) throw new RangeError("a cosigner has a valid name and a 32-byte Ed25519 key");
  const key: KeyObject = publicKeyFromRaw(publicKey);
  return {
    name, publicKey, id: cosignatureKeyId(name, publicKey),
    verify(text, sig) {
      const ts = cosignatureTime(sig);
      if (ts === undefined) return false;
      try {
        return edVerify(null, cosignedMessage(text, ts), key, sig.subarray(8));
      } catch {
        return false;
      }
    },
  };
}

/** A cosigner: signs checkpoints' texts at the time `now()` gives (ms; written in seconds). */
export function cosignatureSigner(name: string, signer: Signer, now: () => number): NoteSigner {
  if (!isKeyName(name)) throw new RangeError(`"${name}" is not a note key name`);
  return {
    name, id: cosignatureKeyId(name, signer.publicKey),
    sign(text) {
      const ts = Math.floor(now() / 1000);
      const out = new Uint8Array(72);
      new DataView(out.buffer).setBigUint64(0, BigInt(ts));
      out.set(signer.sign(cosignedMessage(text, ts)), 8);
      return out;
    },
  };
}

export function cosignerKey(name: string, publicKey: Uint8Array): string {
  return `${name}+${toHex(cosignatureKeyId(name, publicKey))}+${Buffer.from(Uint8Array.of(SIG_COSIGNATURE_V1, ...publicKey)).toString("base64")}`;
}

/** Parses a cosigner verifier key (type 0x04). Never throws. */
export function parseCosignerKey(vkey: string): Checked<Cosigner> {
  const m = /^([^+]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+={0,2})$/.exec(typeof vkey === "string" ? vkey : "");
  if (!m || !isKeyName(m[1]!)) return refuse("E_LEDGER_SHAPE", "a cosigner key is <name>+<8 hex>+<base64>");
  const raw = new Uint8Array(Buffer.from(m[3]!, "base64"));
  if (Buffer.from(raw).toString("base64") !== m[3] || raw.length !== 33 || raw[0] !== SIG_COSIGNATURE_V1) return refuse("E_LEDGER_SHAPE", "a cosigner key is base64(0x04 || 32-byte Ed25519 key)");
  const problem = ed25519KeyProblem(raw.subarray(1)); // under a small-order key anyone cosigns
  if (problem) return refuse("E_LEDGER_SHAPE", `the cosigner key ${KEY_PROBLEM_TEXT[problem]}`);
  const v = cosignatureVerifier(m[1]!, raw.subarray(1));
  if (toHex(v.id) !== m[2]) return refuse("E_LEDGER_SHAPE", "the key ID does not match the name and key");
  return accept(v);
}
