// Verification of RFC 9162 proofs, written from §2.1.3.2 and §2.1.4.2 alone (independent of the
// generation in merkle.ts; only the two hash functions are shared). Each answers true or false
// and never throws, whatever it is given (STYLE.md 5): a proof comes from a registry that may lie.
import { equalBytes } from "../../attestation/bytes.js";
import { HASH_BYTES, leafHash, nodeHash } from "./merkle.js";

function isHash(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array && v.length === HASH_BYTES;
}

function isSize(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function isPath(v: unknown): v is readonly Uint8Array[] {
  return Array.isArray(v) && v.length <= 64 && v.every(isHash);
}

const lsb = (x: number): boolean => x % 2 === 1;
const shr = (x: number): number => Math.floor(x / 2);

/**
 * RFC 9162 §2.1.3.2: does `path` prove that the leaf with hash `leaf` is at `index` in the tree
 * of `size` leaves whose root is `root`?
 */
export function verifyInclusionHash(leaf: Uint8Array, index: number, size: number, path: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!isHash(leaf) || !isHash(root) || !isSize(index) || !isSize(size) || !isPath(path)) return false;
  // 1. leaf_index >= tree_size: fail.
  if (index >= size) return false;
  // 2. fn = leaf_index, sn = tree_size - 1; 3. r = hash.
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  // 4. for each p in inclusion_path:
  for (const p of path) {
    // a. sn = 0: fail.
    if (sn === 0) return false;
    if (lsb(fn) || fn === sn) {
      // b. i. r = HASH(0x01 || p || r); ii. if LSB(fn) is not set, shift until it is or fn = 0.
      r = nodeHash(p, r);
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0) {
          fn = shr(fn);
          sn = shr(sn);
        }
      }
    } else {
      // otherwise r = HASH(0x01 || r || p)
      r = nodeHash(r, p);
    }
    // c. shift both once.
    fn = shr(fn);
    sn = shr(sn);
  }
  // 5. sn = 0 and r = root_hash.
  return sn === 0 && equalBytes(r, root);
}

/** verifyInclusionHash for the entry bytes themselves (leaf hash = SHA-256(0x00 || entry)). */
export function verifyInclusion(entry: Uint8Array, index: number, size: number, path: readonly Uint8Array[], root: Uint8Array): boolean {
  if (!(entry instanceof Uint8Array)) return false;
  return verifyInclusionHash(leafHash(entry), index, size, path, root);
}

/**
 * RFC 9162 §2.1.4.2: does `path` prove that the tree of `first` leaves with root `firstRoot` is a
 * prefix of the tree of `second` leaves with root `secondRoot`?
 * Outside the RFC's 0 < first < second: first = second holds iff the roots are equal and the path
 * is empty; first = 0 (the empty tree is a prefix of every tree) iff the path is empty.
 */
export function verifyConsistency(first: number, second: number, firstRoot: Uint8Array, secondRoot: Uint8Array, path: readonly Uint8Array[]): boolean {
  if (!isSize(first) || !isSize(second) || !isHash(firstRoot) || !isHash(secondRoot) || !isPath(path)) return false;
  if (first > second) return false;
  if (first === 0) return path.length === 0;
  if (first === second) return path.length === 0 && equalBytes(firstRoot, secondRoot);
  // 1. an empty consistency_path: fail.
  if (path.length === 0) return false;
  // 2. first an exact power of 2: prepend first_hash.
  const p = isExactPowerOfTwo(first) ? [firstRoot, ...path] : [...path];
  // 3. fn = first - 1, sn = second - 1.
  let fn = first - 1;
  let sn = second - 1;
  // 4. if LSB(fn) is set, shift both until it is not.
  while (lsb(fn)) {
    fn = shr(fn);
    sn = shr(sn);
  }
  // 5. fr = sr = the first value.
  let fr = p[0]!;
  let sr = p[0]!;
  // 6. for each subsequent value c:
  for (let i = 1; i < p.length; i++) {
    const c = p[i]!;
    // a. sn = 0: fail.
    if (sn === 0) return false;
    if (lsb(fn) || fn === sn) {
      // b. i. fr = HASH(0x01 || c || fr); ii. sr = HASH(0x01 || c || sr);
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      // iii. if LSB(fn) is not set, shift both until LSB(fn) is set or fn = 0.
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0) {
          fn = shr(fn);
          sn = shr(sn);
        }
      }
    } else {
      // otherwise sr = HASH(0x01 || sr || c)
      sr = nodeHash(sr, c);
    }
    // c. shift both once.
    fn = shr(fn);
    sn = shr(sn);
  }
  // 7. fr = first_hash, sr = second_hash, sn = 0.
  return sn === 0 && equalBytes(fr, firstRoot) && equalBytes(sr, secondRoot);
}

function isExactPowerOfTwo(n: number): boolean {
  let x = n;
  while (x > 1) {
    if (x % 2 !== 0) return false;
    x /= 2;
  }
  return x === 1;
}
