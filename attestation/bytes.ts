// Small byte helpers shared by the attestation modules (internal; not re-exported by index.ts
// except toHex/fromHex, which callers need for nonces and tokens on the command line).
import { timingSafeEqual } from "node:crypto";
import { AttestationError } from "./errors.js";

export function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

/** Boundary check for arguments (STYLE.md 3): the argument is named in the message. */
export function abytes(v: unknown, name: string, lengths?: readonly number[]): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new AttestationError("E_ARGUMENT", `${name} must be a Uint8Array`);
  if (lengths !== undefined && !lengths.includes(v.length)) {
    throw new AttestationError("E_ARGUMENT", `${name} must be ${lengths.join(" or ")} bytes, got ${v.length}`);
  }
  return v;
}

/** Equality of two byte strings; the time depends on the lengths only, not on the contents. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  if (a.length === 0) return true;
  return timingSafeEqual(a, b);
}

/** Bytewise lexicographic order (RFC 8949 §4.2.1 key order). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString("hex");
}

/** Strict hex: an even number of [0-9a-fA-F], nothing else. */
export function fromHex(s: string): Uint8Array {
  if (typeof s !== "string" || s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new AttestationError("E_ARGUMENT", "expected an even-length hexadecimal string");
  }
  return new Uint8Array(Buffer.from(s, "hex"));
}

/** A plain Uint8Array copy (never a Buffer view into a shared pool). */
export function copyBytes(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}
