// A compact range (the "frontier" of a log): the roots of the complete subtrees that make up the
// first `size` leaves, one per set bit of size, largest first. With it an auditor extends a tree
// it verified earlier by the new entries alone and recomputes the root, in O(log n) memory,
// without trusting the log for anything but the entries (RFC 9162 §2.1.1 applied incrementally).
import { EMPTY_ROOT, nodeHash, leafHash } from "./merkle.js";

export class CompactRange {
  #size: number;
  readonly #hashes: Uint8Array[];

  /** An empty range, or one saved earlier (its hashes must match the set bits of size). */
  constructor(size = 0, hashes: readonly Uint8Array[] = []) {
    let bits = 0;
    for (let s = size; s > 0; s = Math.floor(s / 2)) bits += s % 2;
    if (!Number.isSafeInteger(size) || size < 0 || hashes.length !== bits || hashes.some((h) => !(h instanceof Uint8Array) || h.length !== 32)) {
      throw new RangeError("a compact range holds one 32-byte hash per set bit of its size");
    }
    this.#size = size;
    this.#hashes = [...hashes];
  }

  get size(): number {
    return this.#size;
  }

  get hashes(): readonly Uint8Array[] {
    return this.#hashes;
  }

  append(entry: Uint8Array): void {
    this.appendLeafHash(leafHash(entry));
  }

  appendLeafHash(leaf: Uint8Array): void {
    let h = leaf;
    // Each trailing 1 bit of the old size is a subtree of the new leaf's height: merge it.
    for (let s = this.#size; s % 2 === 1; s = (s - 1) / 2) h = nodeHash(this.#hashes.pop()!, h);
    this.#hashes.push(h);
    this.#size++;
  }

  /** MTH of the first `size` leaves: the subtree roots folded from the right. */
  root(): Uint8Array {
    if (this.#hashes.length === 0) return EMPTY_ROOT;
    let r = this.#hashes[this.#hashes.length - 1]!;
    for (let i = this.#hashes.length - 2; i >= 0; i--) r = nodeHash(this.#hashes[i]!, r);
    return r;
  }
}
