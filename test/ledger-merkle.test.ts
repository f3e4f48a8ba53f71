// RFC 9162 Merkle tree: published reference roots, an independent naive implementation of the
// RFC's recursive definitions (MTH, PATH, PROOF/SUBPROOF) as the oracle, every (m, n) up to 64,
// tampered proofs, fast-check properties, the SQLite node store, and O(log n) reads per proof.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import fc from "fast-check";
import { EMPTY_ROOT, MemoryTree, consistencyProof, inclusionProof, leafHash, rootHash, type NodeReader } from "../registry/ledger/merkle.js";
import { verifyConsistency, verifyInclusion, verifyInclusionHash } from "../registry/ledger/verify.js";
import { Store } from "../registry/store.js";
import { LedgerDb } from "../registry/ledger/ledger-db.js";
import { tempDir } from "./support/registry-sim.js";

// --- the oracle: RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1 written literally over byte arrays --------
const sha = (...parts: Uint8Array[]): Buffer => createHash("sha256").update(Buffer.concat(parts)).digest();
const split = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};
function mth(d: Uint8Array[]): Buffer {
  if (d.length === 0) return sha();
  if (d.length === 1) return sha(Uint8Array.of(0), d[0]!);
  const k = split(d.length);
  return sha(Uint8Array.of(1), mth(d.slice(0, k)), mth(d.slice(k)));
}
function path(m: number, d: Uint8Array[]): Buffer[] {
  if (d.length <= 1) return [];
  const k = split(d.length);
  return m < k ? [...path(m, d.slice(0, k)), mth(d.slice(k))] : [...path(m - k, d.slice(k)), mth(d.slice(0, k))];
}
function subproof(m: number, d: Uint8Array[], b: boolean): Buffer[] {
  if (m === d.length) return b ? [] : [mth(d)];
  const k = split(d.length);
  return m <= k ? [...subproof(m, d.slice(0, k), b), mth(d.slice(k))] : [...subproof(m - k, d.slice(k), false), mth(d.slice(0, k))];
}
const proof = (m: number, d: Uint8Array[]): Buffer[] => subproof(m, d, true);

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const hexes = (a: readonly Uint8Array[]): string[] => a.map(hex);
const entries = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => new TextEncoder().encode(`entry ${i}`));

function flip(b: Uint8Array, bit = 0): Uint8Array {
  const c = new Uint8Array(b);
  c[bit >> 3]! ^= 1 << (bit & 7);
  return c;
}

test("published reference roots (Certificate Transparency test data) for trees of 0..8 leaves", () => {
  // The leaves and roots of the CT / Trillian reference vectors (RFC 6962 tree = RFC 9162 tree).
  const leaves = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map((h) => new Uint8Array(Buffer.from(h, "hex")));
  const roots = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
  ];
  assert.equal(hex(EMPTY_ROOT), roots[0]);
  const t = new MemoryTree();
  for (let n = 0; n <= 8; n++) {
    if (n > 0) t.append(leaves[n - 1]!);
    assert.equal(hex(t.root()), roots[n], `root of ${n}`);
    assert.equal(hex(mth(leaves.slice(0, n))), roots[n], `oracle root of ${n}`);
  }
  assert.equal(hex(leafHash(new Uint8Array(0))), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
});

test("every (m, n) up to 64: roots, inclusion and consistency proofs equal the oracle's and verify", () => {
  const d = entries(64);
  const t = new MemoryTree();
  const roots = [EMPTY_ROOT];
  for (let n = 1; n <= 64; n++) {
    t.append(d[n - 1]!);
    roots.push(t.root());
    assert.equal(hex(roots[n]!), hex(mth(d.slice(0, n))), `root ${n}`);
  }
  for (let n = 1; n <= 64; n++) {
    for (let m = 0; m < n; m++) {
      const p = inclusionProof(t, m, n);
      assert.deepEqual(hexes(p), hexes(path(m, d.slice(0, n))), `PATH(${m}, D[${n}])`);
      assert.ok(verifyInclusion(d[m]!, m, n, p, roots[n]!), `inclusion ${m} in ${n}`);
    }
    for (let m = 1; m <= n; m++) {
      const p = consistencyProof(t, m, n);
      assert.deepEqual(hexes(p), hexes(m === n ? [] : proof(m, d.slice(0, n))), `PROOF(${m}, D[${n}])`);
      assert.ok(verifyConsistency(m, n, roots[m]!, roots[n]!, p), `consistency ${m} -> ${n}`);
    }
    assert.ok(verifyConsistency(0, n, EMPTY_ROOT, roots[n]!, []), "the empty tree is a prefix of every tree");
  }
});

test("every (m, n) up to 64: a tampered proof, index, size, leaf or root fails", () => {
  const d = entries(64);
  const t = new MemoryTree();
  for (const e of d) t.append(e);
  const roots = Array.from({ length: 65 }, (_, n) => t.root(n));
  let checked = 0;
  for (let n = 1; n <= 64; n++) {
    for (let m = 0; m < n; m++) {
      const p = inclusionProof(t, m, n);
      const ok = (pp: Uint8Array[], mm = m, nn = n, leaf = d[m]!, root = roots[n]!) => verifyInclusion(leaf, mm, nn, pp, root);
      for (let i = 0; i < p.length; i++) assert.equal(ok(p.map((x, j) => (j === i ? flip(x, i * 7) : x))), false, `flipped element ${i} of inclusion ${m}/${n}`);
      assert.equal(ok(p, m, n, flip(d[m]!)), false);
      assert.equal(ok(p, m, n, d[m]!, flip(roots[n]!)), false);
      if (n > 1) {
        assert.equal(ok(p, (m + 1) % n), false, `wrong index ${(m + 1) % n}`);
        assert.equal(ok(p.slice(1)), false, "a truncated path");
      }
      assert.equal(ok([...p, roots[n]!]), false, "an extended path");
      if (n < 64) assert.equal(ok(p, m, n + 1, d[m]!, roots[n + 1]!), false, "another size");
      assert.equal(ok(p, n), false, "index = size");
      checked++;
    }
    for (let m = 1; m < n; m++) {
      const p = consistencyProof(t, m, n);
      const ok = (pp: Uint8Array[], a = roots[m]!, b = roots[n]!, mm = m, nn = n) => verifyConsistency(mm, nn, a, b, pp);
      for (let i = 0; i < p.length; i++) assert.equal(ok(p.map((x, j) => (j === i ? flip(x, 3) : x))), false, `flipped element ${i} of ${m}->${n}`);
      assert.equal(ok(p, flip(roots[m]!)), false, "a wrong first root");
      assert.equal(ok(p, roots[m]!, flip(roots[n]!)), false, "a wrong second root");
      assert.equal(ok([]), false, "an empty proof");
      assert.equal(ok(p.slice(0, -1)), false, "a truncated proof");
      assert.equal(ok([...p, roots[m]!]), false, "an extended proof");
      if (m + 1 < n) assert.equal(ok(p, roots[m + 1]!, roots[n]!, m + 1), false, "another first size");
      assert.equal(ok(p, roots[n]!, roots[m]!, n, m), false, "the sizes swapped");
      checked++;
    }
    assert.equal(verifyConsistency(n, n, roots[n]!, flip(roots[n]!), []), false, "same size, different roots");
  }
  assert.ok(checked > 4000);
});

test("property: proofs from a random tree verify; any single-bit change to a proof is refused", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 1500 }), fc.nat(), fc.nat(), fc.nat(), (n, a, b, bit) => {
      const t = new MemoryTree(Array.from({ length: n }, (_, i) => leafHash(Uint8Array.of(i & 255, i >> 8, 7))));
      const m = a % n;
      const root = t.root();
      const p = inclusionProof(t, m, n);
      assert.ok(verifyInclusionHash(t.node(0, m), m, n, p, root));
      if (p.length > 0) {
        const i = b % p.length;
        assert.equal(verifyInclusionHash(t.node(0, m), m, n, p.map((x, j) => (j === i ? flip(x, bit % 256) : x)), root), false);
      }
      const first = 1 + (b % n);
      const c = consistencyProof(t, first, n);
      assert.ok(verifyConsistency(first, n, t.root(first), root, c));
      if (c.length > 0) {
        const i = a % c.length;
        assert.equal(verifyConsistency(first, n, t.root(first), root, c.map((x, j) => (j === i ? flip(x, bit % 256) : x))), false);
      }
    }),
    { numRuns: 150 },
  );
});

test("verification never throws on hostile arguments", () => {
  const h = new Uint8Array(32);
  const r = new Uint8Array(32).fill(1); // not h: [h, 0, 1, [], h] would be a true proof
  const bad: unknown[] = [undefined, null, -1, 1.5, NaN, 2 ** 60, "3", {}, [], [h, "x"], new Uint8Array(31), Array(100).fill(h)];
  for (const x of bad) {
    for (const args of [
      [x, 0, 1, [], r], [h, x, 1, [], r], [h, 0, x, [], r], [h, 0, 1, x, r], [h, 0, 1, [], x],
    ]) assert.equal((verifyInclusionHash as (...a: unknown[]) => boolean)(...args), false);
    for (const args of [
      [x, 2, h, h, [h]], [1, x, h, h, [h]], [1, 2, x, h, [h]], [1, 2, h, x, [h]], [1, 2, h, h, x],
    ]) assert.equal((verifyConsistency as (...a: unknown[]) => boolean)(...args), false);
  }
  assert.equal(verifyInclusion("entry" as unknown as Uint8Array, 0, 1, [], h), false);
});

test("the SQLite node store builds the same tree and proofs as the in-memory one", (t) => {
  const dir = tempDir("at-ledger-merkle-");
  t.after(() => dir.cleanup());
  const store = Store.open(join(dir.path, "tree.sqlite"));
  t.after(() => store.close());
  const ldb = new LedgerDb(store.db);
  const log = ldb.logs.ensure(new Uint8Array(16).fill(1), new Uint8Array(32).fill(2), "test", true).id;
  const d = entries(200);
  const mem = new MemoryTree();
  ldb.tx(() => {
    d.forEach((e, i) => {
      ldb.tree.putEntry(log, i, e);
      ldb.tree.addLeaf(log, i, e);
      mem.append(e);
    });
  });
  for (const n of [1, 2, 3, 7, 64, 65, 127, 128, 129, 200]) {
    assert.equal(hex(ldb.tree.root(log, n)), hex(mem.root(n)), `root ${n}`);
    for (const m of [0, n >> 1, n - 1]) assert.deepEqual(hexes(ldb.tree.inclusion(log, m, n)), hexes(inclusionProof(mem, m, n)));
    for (const m of [1, n >> 1, n]) if (m >= 1) assert.deepEqual(hexes(ldb.tree.consistency(log, m, n)), hexes(consistencyProof(mem, m, n)));
  }
  assert.deepEqual(ldb.tree.entries(log, 10, 13).map((e) => new TextDecoder().decode(e)), ["entry 10", "entry 11", "entry 12"]);
  // Nodes are append-only (schema triggers).
  assert.throws(() => store.db.prepare("UPDATE ledger_nodes SET hash = zeroblob(32) WHERE log = ?").run(log), /append-only/);
  assert.throws(() => store.db.prepare("DELETE FROM ledger_entries WHERE log = ?").run(log), /append-only/);
});

test("a proof in a tree of 10^6 or 2^40 leaves reads O(log n) stored nodes", () => {
  // A synthetic node source: any complete subtree "exists"; each read is counted.
  for (const n of [1_000_000, 1_000_003, 2 ** 40 - 1]) {
    let reads = 0;
    const r: NodeReader = {
      node(level, index) {
        reads++;
        return createHash("sha256").update(`${level}/${index}`).digest();
      },
    };
    const bound = 2 * Math.ceil(Math.log2(n)) + 2;
    for (const m of [0, 1, Math.floor(n / 3), n - 2, n - 1]) {
      reads = 0;
      const p = inclusionProof(r, m, n);
      assert.ok(reads <= bound, `inclusion ${m}/${n}: ${reads} reads > ${bound}`);
      assert.ok(p.length <= Math.ceil(Math.log2(n)), `an audit path has at most ceil(log2 n) hashes, got ${p.length}`);
    }
    for (const m of [1, 999_999, Math.floor(n / 2) + 1]) {
      reads = 0;
      consistencyProof(r, m, n);
      assert.ok(reads <= 2 * bound, `consistency ${m}/${n}: ${reads} reads`);
    }
    reads = 0;
    rootHash(r, n);
    assert.ok(reads <= Math.ceil(Math.log2(n)) + 1, `root of ${n}: ${reads} reads`);
  }
});
