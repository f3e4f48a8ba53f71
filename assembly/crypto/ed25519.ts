// Ed25519 (RFC 8032 §5.1): key generation, deterministic signing, strict verification with
// the same acceptance rules as node:crypto / OpenSSL (contract C1).
import { ctEqual, wipe } from "./ct";
import { feNeg } from "./field25519";
import {
  GE, geDoubleScalarMultVartime, geFromBytes, geScalarMultBase, geToBytes, geToBytes2
} from "./edwards25519";
import { scIsCanonical, scMulAdd, scReduce } from "./scalar25519";
import { SHA512_CTX_SIZE, sha512, sha512Final, sha512Init, sha512Update } from "./sha512";

const CTX: usize = memory.data(SHA512_CTX_SIZE, 8);
const P: usize = memory.data(2 * <i32>GE, 8); // two points (p3)
const P2: usize = P + GE;
const EXPANDED: usize = memory.data(64, 8); // a || prefix (secret), for ed25519SignSeed
const PUB: usize = memory.data(32, 8);
const NONCE: usize = memory.data(64, 8);    // r = H(prefix || M) mod L (secret)
const HRAM: usize = memory.data(64, 8);     // k = H(R || A || M) mod L
const CHECK: usize = memory.data(32, 8);    // encoding of the recomputed R

/**
 * RFC 8032 §5.1.5: expanded64 = clamped scalar a (32, little-endian) || prefix (32), and
 * pub32 = encoding of a * B. pub32 and expanded64 may overlap seed32 (it is read first).
 */
export function ed25519KeyFromSeed(seed32: usize, expanded64: usize, pub32: usize): void {
  expand(seed32, expanded64);
  geScalarMultBase(P, expanded64);
  geToBytes(pub32, P);
  wipe(P, <i32>GE);
}

/**
 * RFC 8032 §5.1.5 steps 1-3 alone: the expanded key of a seed, for a caller that already holds
 * the seed's public key (no base-point multiplication). Constant time in the seed.
 */
export function ed25519ExpandSeed(seed32: usize, expanded64: usize): void {
  expand(seed32, expanded64);
}

// RFC 8032 §5.1.5 steps 1-3: h = SHA-512(seed), the low half clamped.
function expand(seed32: usize, expanded64: usize): void {
  sha512(seed32, 32, expanded64);
  store<u8>(expanded64, load<u8>(expanded64, 0) & 248, 0);
  store<u8>(expanded64, (load<u8>(expanded64, 31) & 127) | 64, 31);
}

// RFC 8032 §5.1.6 step 2: NONCE = r = SHA-512(prefix || M) mod L.
function nonce(expanded64: usize, msg: usize, msgLen: i32): void {
  sha512Init(CTX);
  sha512Update(CTX, expanded64 + 32, 32);
  sha512Update(CTX, msg, msgLen);
  sha512Final(CTX, NONCE);
  scReduce(NONCE, NONCE);
}

// RFC 8032 §5.1.6 steps 4-6, with R already in sig64[0..32]: S = (r + k * a) mod L.
function finish(expanded64: usize, pub32: usize, msg: usize, msgLen: i32, sig64: usize): void {
  sha512Init(CTX);
  sha512Update(CTX, sig64, 32);
  sha512Update(CTX, pub32, 32);
  sha512Update(CTX, msg, msgLen);
  sha512Final(CTX, HRAM);
  scReduce(HRAM, HRAM);
  scMulAdd(sig64 + 32, HRAM, expanded64, NONCE);
  wipe(NONCE, 64);
  wipe(P, 2 * <i32>GE);
}

/**
 * RFC 8032 §5.1.6: sig64 = R || S for the message at msg (any address; sig64 must not overlap
 * it), with the expanded key of ed25519KeyFromSeed and its public key.
 */
export function ed25519SignExpanded(expanded64: usize, pub32: usize, msg: usize, msgLen: i32,
  sig64: usize): void {
  nonce(expanded64, msg, msgLen);
  geScalarMultBase(P, NONCE);       // step 3: R = r * B
  geToBytes(sig64, P);
  finish(expanded64, pub32, msg, msgLen, sig64);
}

/**
 * Signs straight from a 32-byte seed (RFC 8032 §5.1.5 + §5.1.6), computing A = a * B and
 * R = r * B side by side so that one field inversion encodes both. sig64 must not overlap
 * msg; seed32 may (it is read first). Wipes the expanded key.
 */
export function ed25519SignSeed(seed32: usize, msg: usize, msgLen: i32, sig64: usize): void {
  expand(seed32, EXPANDED);
  nonce(EXPANDED, msg, msgLen);
  geScalarMultBase(P, EXPANDED);
  geScalarMultBase(P2, NONCE);
  geToBytes2(PUB, P, sig64, P2);
  finish(EXPANDED, PUB, msg, msgLen, sig64);
  wipe(EXPANDED, 64);
}

/**
 * RFC 8032 §5.1.7, cofactorless, with OpenSSL's decoding rules (node:crypto agrees on every
 * case in docs/ABI.md): S must be < L; A is decoded with y taken mod p and x = 0 allowed
 * with the sign bit; R is compared byte for byte with the canonical encoding of
 * S * B - k * A, so a non-canonical R never verifies. Never throws; public inputs only.
 */
export function ed25519Verify(pub32: usize, sig64: usize, msg: usize, msgLen: i32): bool {
  if (!scIsCanonical(sig64 + 32)) return false;                   // step 1: S < L
  if (!geFromBytes(P, pub32)) return false;                       // step 1: decode A
  sha512Init(CTX);                                                // step 2: k
  sha512Update(CTX, sig64, 32);
  sha512Update(CTX, pub32, 32);
  sha512Update(CTX, msg, msgLen);
  sha512Final(CTX, HRAM);
  scReduce(HRAM, HRAM);
  feNeg(P, P);              // -A: negate X ...
  feNeg(P + 120, P + 120);  // ... and T
  geDoubleScalarMultVartime(P, HRAM, P, sig64 + 32);              // step 3: S B - k A
  geToBytes(CHECK, P);
  return ctEqual(CHECK, sig64, 32);
}
