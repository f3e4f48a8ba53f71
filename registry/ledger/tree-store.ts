// Entries and Merkle nodes of every log this registry holds, in SQLite (schema.ts).
// Adding leaf i stores its hash at (level 0, i), then every complete subtree it closes: while the
// index is odd, the parent = H(0x01 || left sibling || node) one level up - on average two rows per
// leaf, and the tree's other nodes are never touched again. Runs inside the caller's transaction.
import type { Db, Stmt } from "../store/util.js";
import { blob, bytes } from "../store/util.js";
import { consistencyProof, inclusionProof, leafHash, nodeHash, rootHash, type NodeReader } from "./merkle.js";

export class TreeStore {
  readonly #putEntry: Stmt;
  readonly #entry: Stmt;
  readonly #range: Stmt;
  readonly #putNode: Stmt;
  readonly #node: Stmt;
  readonly #nodes: Stmt;

  constructor(db: Db) {
    this.#putEntry = db.prepare("INSERT INTO ledger_entries (log, seq, cose) VALUES (?, ?, ?) ON CONFLICT DO NOTHING");
    this.#entry = db.prepare("SELECT cose FROM ledger_entries WHERE log = ? AND seq = ?").pluck();
    this.#range = db.prepare("SELECT cose FROM ledger_entries WHERE log = ? AND seq >= ? AND seq < ? ORDER BY seq").pluck();
    this.#putNode = db.prepare("INSERT INTO ledger_nodes (log, level, idx, hash) VALUES (?, ?, ?, ?)");
    this.#node = db.prepare("SELECT hash FROM ledger_nodes WHERE log = ? AND level = ? AND idx = ?").pluck();
    this.#nodes = db.prepare("SELECT hash FROM ledger_nodes WHERE log = ? AND level = ? AND idx >= ? AND idx < ? ORDER BY idx").pluck();
  }

  /** Stores an entry at `seq` unless one is there; returns the stored bytes (the new or the old). */
  putEntry(log: number, seq: number, cose: Uint8Array): Uint8Array {
    if (this.#putEntry.run(log, seq, blob(cose)).changes === 1) return cose;
    return this.entry(log, seq)!;
  }

  entry(log: number, seq: number): Uint8Array | undefined {
    const v = this.#entry.get(log, seq);
    return v === undefined ? undefined : bytes(v);
  }

  /** Entries [start, end) that are stored, in order. */
  entries(log: number, start: number, end: number): Uint8Array[] {
    return (this.#range.all(log, start, end) as Buffer[]).map(bytes);
  }

  /** Adds leaf `index` (= the current size) with the hash of `cose`; returns the leaf hash. */
  addLeaf(log: number, index: number, cose: Uint8Array): Uint8Array {
    const leaf = leafHash(cose);
    let h = leaf;
    let level = 0;
    let idx = index;
    this.#putNode.run(log, 0, idx, blob(h));
    while (idx % 2 === 1) {
      h = nodeHash(this.node(log, level, idx - 1), h);
      level++;
      idx = (idx - 1) / 2;
      this.#putNode.run(log, level, idx, blob(h));
    }
    return leaf;
  }

  node(log: number, level: number, index: number): Uint8Array {
    const v = this.#node.get(log, level, index);
    // A missing node means rows were removed behind the triggers' back: never answer with a guess.
    if (v === undefined) throw new Error(`ledger: node (${level}, ${index}) of log ${log} is missing`);
    return bytes(v);
  }

  /** Stored nodes (level, [start, end)), in order: a tile's hashes (tiles.ts). */
  nodes(log: number, level: number, start: number, end: number): Uint8Array[] {
    return (this.#nodes.all(log, level, start, end) as Buffer[]).map(bytes);
  }

  reader(log: number): NodeReader & { nodes(level: number, start: number, end: number): Uint8Array[] } {
    return { node: (level, index) => this.node(log, level, index), nodes: (level, start, end) => this.nodes(log, level, start, end) };
  }

  root(log: number, size: number): Uint8Array {
    return rootHash(this.reader(log), size);
  }

  inclusion(log: number, index: number, size: number): Uint8Array[] {
    return inclusionProof(this.reader(log), index, size);
  }

  consistency(log: number, first: number, second: number): Uint8Array[] {
    return consistencyProof(this.reader(log), first, second);
  }
}
