// Signed notes (C2SP signed-note v1.0.0): a UTF-8 text ending in a newline, a blank line, then
// one line per signature, "— <key name> base64(key ID || signature)". Key ID = the first 4 bytes
// of SHA-256(key name || 0x0A || signature type || public key) (signed-note "Signatures").
// Ed25519 (type 0x01, RFC 8032) signs the note text itself; a verifier key is written
// "<name>+<8 hex key ID>+base64(0x01 || 32-byte public key)" (golang.org/x/mod/sumdb/note).
// Verifiers ignore signatures of unknown keys; a known key's signature that fails rejects the
// whole note; a note with no verified signature is refused (signed-note "Signatures").
// Parsing hostile bytes never throws: it answers a Checked<T> (errors.ts).
import { createHash } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { verify as edVerify } from "node:crypto";
import type { Signer } from "../../attestation/cose/sign1.js";
import { publicKeyFromRaw, toHex } from "../../attestation/index.js";
import { ed25519KeyProblem, KEY_PROBLEM_TEXT } from "../key-validity.js";
import { accept, refuse, type Checked } from "./errors.js";

/** Signature type bytes (signed-note "Signature types"). */
export const SIG_ED25519 = 0x01;
export const SIG_COSIGNATURE_V1 = 0x04;

/** A note of more bytes or signature lines is refused (signed-note: accept at least 16). */
export const MAX_NOTE_BYTES = 64 * 1024;
export const MAX_NOTE_SIGNATURES = 100;

const utf8 = new TextEncoder();
const EM_DASH = "\u2014 ";

/** A key name: non-empty, no Unicode space, no "+", no control character. */
export function isKeyName(name: string): boolean {
  return name.length > 0 && name.length <= 512 && !/[\s+\u0000-\u001f\u007f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u.test(name);
}

export function keyId(name: string, type: number, publicKey: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(utf8.encode(name)).update(Uint8Array.of(0x0a, type)).update(publicKey).digest().subarray(0, 4));
}

export interface NoteVerifier {
  readonly name: string;
  /** The 4-byte key ID. */
  readonly id: Uint8Array;
  /** Checks `sig` (without the key ID) over the note text. Never throws. */
  verify(text: Uint8Array, sig: Uint8Array): boolean;
}

export interface NoteSigner {
  readonly name: string;
  readonly id: Uint8Array;
  sign(text: Uint8Array): Uint8Array;
}

function ed25519Verify(key: KeyObject, text: Uint8Array, sig: Uint8Array): boolean {
  if (sig.length !== 64) return false;
  try {
    return edVerify(null, text, key, sig);
  } catch {
    return false;
  }
}

/** A note verifier for an Ed25519 key (type 0x01). */
export function ed25519NoteVerifier(name: string, publicKey: Uint8Array): NoteVerifier {
  if (!isKeyName(name) || publicKey.length !== 32) throw new RangeError("an Ed25519 note key has a valid name and 32 bytes");
  const key = publicKeyFromRaw(publicKey);
  return { name, id: keyId(name, SIG_ED25519, publicKey), verify: (text, sig) => ed25519Verify(key, text, sig) };
}

/** A note signer over an Ed25519 Signer handle (e.g. the registry key). */
export function ed25519NoteSigner(name: string, signer: Signer): NoteSigner {
  if (!isKeyName(name)) throw new RangeError(`"${name}" is not a note key name`);
  return { name, id: keyId(name, SIG_ED25519, signer.publicKey), sign: (text) => signer.sign(text) };
}

/** The verifier key string "<name>+<hex key ID>+base64(0x01 || public key)". */
export function verifierKey(name: string, publicKey: Uint8Array): string {
  const id = keyId(name, SIG_ED25519, publicKey);
  return `${name}+${toHex(id)}+${Buffer.from(Uint8Array.of(SIG_ED25519, ...publicKey)).toString("base64")}`;
}

const b64ok = (s: string) => /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0;

/** Parses a verifier key string (Ed25519 only). Never throws. */
export function parseVerifierKey(vkey: string): Checked<NoteVerifier & { readonly publicKey: Uint8Array }> {
  const m = /^([^+]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(typeof vkey === "string" ? vkey : "");
  if (!m || !isKeyName(m[1]!) || !b64ok(m[3]!)) return refuse("E_LEDGER_SHAPE", "a verifier key is <name>+<8 hex>+<base64>");
  const raw = new Uint8Array(Buffer.from(m[3]!, "base64"));
  if (Buffer.from(raw).toString("base64") !== m[3]) return refuse("E_LEDGER_SHAPE", "the key is not canonical base64");
  if (raw.length !== 33 || raw[0] !== SIG_ED25519) return refuse("E_LEDGER_SHAPE", "only Ed25519 verifier keys (0x01 || 32 bytes) are supported");
  const pub = raw.subarray(1);
  const problem = ed25519KeyProblem(pub); // under a small-order key anyone signs notes (checkpoints)
  if (problem) return refuse("E_LEDGER_SHAPE", `the verifier key ${KEY_PROBLEM_TEXT[problem]}`);
  const v = ed25519NoteVerifier(m[1]!, pub);
  if (toHex(v.id) !== m[2]) return refuse("E_LEDGER_SHAPE", "the key ID does not match the name and key");
  return accept({ ...v, publicKey: new Uint8Array(pub) });
}

/** Is `text` a valid note text: non-empty, ends in a newline, no control character but newline. */
export function isNoteText(text: string): boolean {
  return text.length > 0 && text.endsWith("\n") && !/[\u0000-\u0009\u000b-\u001f\u007f]/.test(text);
}

/** Signs a note text with every signer, in order. */
export function signNote(text: string, signers: readonly NoteSigner[]): string {
  if (!isNoteText(text)) throw new RangeError("a note text is non-empty, ends in a newline and holds no control character");
  const bytes = utf8.encode(text);
  const lines = signers.map((s) => `${EM_DASH}${s.name} ${Buffer.concat([s.id, s.sign(bytes)]).toString("base64")}\n`);
  return `${text}\n${lines.join("")}`;
}

export interface NoteSignature {
  readonly name: string;
  /** Key ID, hex. */
  readonly id: string;
  /** The whole signature line's base64 (key ID || signature). */
  readonly base64: string;
}

export interface OpenedNote {
  readonly text: string;
  /** Signatures by the verifiers given, each verified. */
  readonly verified: NoteSignature[];
  /** Signatures of keys not given (ignored, as signed-note requires). */
  readonly unverified: NoteSignature[];
}

/** Splits a note into its text and signature lines, checking no signature. Never throws. */
export function parseNote(note: string | Uint8Array): Checked<{ text: string; sigs: (NoteSignature & { sig: Uint8Array })[] }> {
  let s: string;
  try {
    if (typeof note === "string") s = note;
    else if (note instanceof Uint8Array) s = new TextDecoder("utf-8", { fatal: true }).decode(note);
    else return refuse("E_LEDGER_SHAPE", "a note is text");
  } catch {
    return refuse("E_LEDGER_SHAPE", "a note is valid UTF-8");
  }
  if (utf8.encode(s).length > MAX_NOTE_BYTES) return refuse("E_LEDGER_SHAPE", `a note is at most ${MAX_NOTE_BYTES} bytes`);
  if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(s)) return refuse("E_LEDGER_SHAPE", "a note holds no control character but newline");
  const split = s.lastIndexOf("\n\n");
  if (split < 0 || !s.endsWith("\n")) return refuse("E_LEDGER_SHAPE", "a note is a text, a blank line and signature lines");
  const text = s.slice(0, split + 1);
  const lines = s.slice(split + 2, -1).split("\n");
  if (lines.length > MAX_NOTE_SIGNATURES) return refuse("E_LEDGER_SHAPE", `at most ${MAX_NOTE_SIGNATURES} signatures`);
  const sigs: (NoteSignature & { sig: Uint8Array })[] = [];
  for (const line of lines) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/u.exec(line);
    if (!m || !isKeyName(m[1]!) || !b64ok(m[2]!)) return refuse("E_LEDGER_SHAPE", "a signature line is \"— <name> <base64>\"");
    const raw = new Uint8Array(Buffer.from(m[2]!, "base64"));
    if (Buffer.from(raw).toString("base64") !== m[2]) return refuse("E_LEDGER_SHAPE", "a signature is canonical base64");
    if (raw.length < 5) return refuse("E_LEDGER_SHAPE", "a signature is a key ID and at least one byte");
    sigs.push({ name: m[1]!, id: toHex(raw.subarray(0, 4)), base64: m[2]!, sig: raw.subarray(4) });
  }
  if (text.length === 0) return refuse("E_LEDGER_SHAPE", "a note text is non-empty");
  return accept({ text, sigs });
}

/**
 * Opens a note: every signature by a given verifier (same name and key ID) must verify, at least
 * one must be present; others are listed as unverified. Never throws.
 */
export function openNote(note: string | Uint8Array, verifiers: readonly NoteVerifier[]): Checked<OpenedNote> {
  const p = parseNote(note);
  if (!p.ok) return p;
  const bytes = utf8.encode(p.value.text);
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  for (const s of p.value.sigs) {
    const known = verifiers.filter((v) => v.name === s.name && toHex(v.id) === s.id);
    const { sig: _sig, ...plain } = s;
    if (known.length === 0) {
      if (!unverified.some((u) => u.base64 === s.base64)) unverified.push(plain);
      continue;
    }
    if (!known.some((v) => v.verify(bytes, s.sig))) return refuse("E_LEDGER_SIGNATURE", `the signature of ${s.name}+${s.id} does not verify`);
    if (!verified.some((u) => u.base64 === s.base64)) verified.push(plain);
  }
  if (verified.length === 0) return refuse("E_LEDGER_LOG", "no signature by a known key");
  return accept({ text: p.value.text, verified, unverified });
}
