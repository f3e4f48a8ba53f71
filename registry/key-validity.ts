// Which Ed25519 public keys the registry accepts as an owner's, an authority's or an OEM's
// (RFC 8032 §5.1.3 decoding, strict). node:crypto follows OpenSSL and verifies under any 32 bytes
// that decode to a curve point, small-order ones included: under a small-order key A, [k]A takes
// at most 8 values, so signatures can be forged for any message without a private key (for the
// identity point, R = [r]B, S = r verifies for every message). Such keys are never produced by
// RFC 8032 §5.1.5 key generation, so refusing them costs an honest party nothing. A key passes
// only when its 32 bytes are the canonical encoding (y < p, no sign bit on x = 0) of a point on
// the curve in the prime-order subgroup (torsion-free, hence not of small order). Curve
// arithmetic: @noble/curves.
import { ed25519 } from "@noble/curves/ed25519.js";
import { equalBytes } from "../attestation/bytes.js";

export type KeyProblem = "length" | "not-on-curve" | "non-canonical" | "small-order" | "mixed-order";

/** Why `raw` is not an acceptable Ed25519 public key, or undefined when it is one. Never throws. */
export function ed25519KeyProblem(raw: unknown): KeyProblem | undefined {
  if (!(raw instanceof Uint8Array) || raw.length !== 32) return "length";
  let p: InstanceType<typeof ed25519.Point>;
  try {
    p = ed25519.Point.fromBytes(raw);
  } catch {
    // y >= p, or no x for this y: refused either way; tell the two apart for the message.
    const y = new Uint8Array(raw);
    y[31]! &= 0x7f;
    return y[31] === 0x7f && y.slice(1, 31).every((b) => b === 0xff) && y[0]! >= 0xed ? "non-canonical" : "not-on-curve";
  }
  if (!equalBytes(p.toBytes(), raw)) return "non-canonical";
  if (p.isSmallOrder()) return "small-order";
  if (!p.isTorsionFree()) return "mixed-order";
  return undefined;
}

export const KEY_PROBLEM_TEXT: Readonly<Record<KeyProblem, string>> = {
  length: "is not 32 bytes",
  "not-on-curve": "is not a point on Ed25519",
  "non-canonical": "is not the canonical encoding of its point (RFC 8032 §5.1.3)",
  "small-order": "is a point of small order (anyone could sign under it)",
  "mixed-order": "has a small-order component (not in the prime-order subgroup)",
};
