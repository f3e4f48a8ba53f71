// The Merkle tree of RFC 9162 §2.1 (Certificate Transparency 2.0), SHA-256 as the RFC uses:
//   MTH({})        = SHA-256()                                    (§2.1.1)
//   MTH({d0})      = SHA-256(0x00 || d0)                          leaf hash
//   MTH(D[n])      = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))  k = largest power of 2 < n
// and the generation of inclusion proofs (§2.1.3.1 PATH) and consistency proofs (§2.1.4.1
// PROOF / SUBPROOF). Verification lives apart, in verify.ts, and shares nothing with this file
// but the two hash functions.
//
// Storage model: the hashes of COMPLETE subtrees, node(level, index) = MTH of the leaves
// [index * 2^level, (index + 1) * 2^level). They never change once the tree has grown past them,
// so a database can keep them (tree-store.ts). Every range the RFC algorithms ask for starts at a
// multiple of its largest power of two, so its hash is one stored node, or is built from at most
// log2(n) stored nodes along the right edge: a proof costs O(log n) reads.
import { createHash } from "node:crypto";

export const HASH_BYTES = 32;
/** Trees up to 2^53 - 1 leaves: sizes and indexes stay exact in a JS number. */
export const MAX_TREE_SIZE = Number.MAX_SAFE_INTEGER;

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** RFC 9162 §2.1.1: the hash of an empty tree, SHA-256 of the empty string. */
export const EMPTY_ROOT: Uint8Array = sha256();

/** RFC 9162 §2.1.1: leaf hash = SHA-256(0x00 || entry). */
export function leafHash(entry: Uint8Array): Uint8Array {
  return sha256(LEAF_PREFIX, entry);
}

/** RFC 9162 §2.1.1: interior node = SHA-256(0x01 || left || right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE_PREFIX, left, right);
}

/** The largest power of two strictly smaller than n (n >= 2): the split point k of §2.1.1. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function isPowerOfTwo(n: number): boolean {
  return n >= 1 && 2 ** Math.round(Math.log2(n)) === n;
}

/** Reads the hash of a complete subtree: leaves [index * 2^level, (index + 1) * 2^level). */
export interface NodeReader {
  node(level: number, index: number): Uint8Array;
}

/**
 * MTH(D[start:end]) for a range the RFC algorithms produce (start a multiple of the largest
 * power of two <= end - start): one stored node if complete, else split as §2.1.1 does.
 */
export function rangeHash(r: NodeReader, start: number, end: number): Uint8Array {
  const n = end - start;
  if (n <= 0) return EMPTY_ROOT;
  if (isPowerOfTwo(n) && start % n === 0) return r.node(Math.round(Math.log2(n)), start / n);
  const k = splitPoint(n);
  return nodeHash(rangeHash(r, start, start + k), rangeHash(r, start + k, end));
}

/** The root hash of the first `size` leaves. */
export function rootHash(r: NodeReader, size: number): Uint8Array {
  return rangeHash(r, 0, size);
}

/** RFC 9162 §2.1.3.1: the audit path of leaf `index` in the tree of the first `size` leaves, leaf side first. */
export function inclusionProof(r: NodeReader, index: number, size: number): Uint8Array[] {
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size) && index >= 0 && index < size)) {
    throw new RangeError(`inclusion proof: need 0 <= index < size, got index ${index}, size ${size}`);
  }
  const out: Uint8Array[] = [];
  // PATH(m, D[start:end]) iteratively: the siblings are collected root side first, then reversed.
  let start = 0;
  let end = size;
  let m = index;
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (m < k) {
      out.push(rangeHash(r, start + k, end)); // PATH(m, D[0:k]) : MTH(D[k:n])
      end = start + k;
    } else {
      out.push(rangeHash(r, start, start + k)); // PATH(m - k, D[k:n]) : MTH(D[0:k])
      start += k;
      m -= k;
    }
  }
  return out.reverse();
}

/**
 * RFC 9162 §2.1.4.1: PROOF(first, D[second]) = SUBPROOF(first, D[second], true).
 * 0 < first < second; first = second and first = 0 have the empty proof (verify.ts handles both).
 */
export function consistencyProof(r: NodeReader, first: number, second: number): Uint8Array[] {
  if (!(Number.isSafeInteger(first) && Number.isSafeInteger(second) && first >= 0 && first <= second)) {
    throw new RangeError(`consistency proof: need 0 <= first <= second, got first ${first}, second ${second}`);
  }
  if (first === 0 || first === second) return [];
  const out: Uint8Array[] = [];
  let start = 0;
  let end = second;
  let m = first;
  let whole = true; // the b flag of SUBPROOF
  for (;;) {
    const n = end - start;
    if (m === n) {
      // SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}
      if (!whole) out.push(rangeHash(r, start, end));
      break;
    }
    const k = splitPoint(n);
    if (m <= k) {
      out.push(rangeHash(r, start + k, end)); // SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
      end = start + k;
    } else {
      out.push(rangeHash(r, start, start + k)); // SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
      start += k;
      m -= k;
      whole = false;
    }
  }
  return out.reverse();
}

/** A NodeReader over leaf hashes held in memory (tests, the auditor, small trees). */
export class MemoryTree implements NodeReader {
  readonly #levels: Uint8Array[][] = [[]];

  constructor(leafHashes: readonly Uint8Array[] = []) {
    for (const h of leafHashes) this.appendLeafHash(h);
  }

  get size(): number {
    return this.#levels[0]!.length;
  }

  append(entry: Uint8Array): void {
    this.appendLeafHash(leafHash(entry));
  }

  /** Adds a leaf and every complete subtree it closes (the same carry as tree-store.ts). */
  appendLeafHash(h: Uint8Array): void {
    let level = 0;
    let index = this.#levels[0]!.length;
    this.#levels[0]!.push(h);
    while (index % 2 === 1) {
      const left = this.#levels[level]![index - 1]!;
      h = nodeHash(left, h);
      level++;
      index = (index - 1) / 2;
      (this.#levels[level] ??= []).push(h);
    }
  }

  node(level: number, index: number): Uint8Array {
    const h = this.#levels[level]?.[index];
    if (!h) throw new RangeError(`no complete subtree at level ${level}, index ${index}`);
    return h;
  }

  root(size = this.size): Uint8Array {
    return rootHash(this, size);
  }
}
