// The registry's log as a C2SP tlog-tiles log: its checkpoint (C2SP tlog-checkpoint) opens under
// the log's verifier key and names the RFC 9162 root the registry computes (merkle.ts); its hash
// tiles, read as a tlog client would, rebuild that root; entry bundles hash to the level-0 tiles;
// what does not exist is 404; `antitheft ledger export-tiles` writes the same bytes to a folder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { leafHash, MemoryTree, nodeHash } from "../registry/ledger/merkle.js";
import { parseVerifierKey } from "../registry/ledger/note.js";
import { openCheckpoint } from "../registry/ledger/checkpoint.js";
import { parseEntryBundle, parseTilePath, tileIndexPath, tilePath, tilesOf } from "../registry/ledger/tiles.js";
import { TLOG_PREFIX } from "../registry/ledger/tlog-http.js";
import { freshImei } from "./support/registry-sim.js";
import { startFederation } from "./support/ledger-sim.js";

const cli = fileURLToPath(new URL("../cli/antitheft.js", import.meta.url));

async function get(url: string): Promise<{ status: number; type: string | null; cache: string | null; body: Uint8Array }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(20_000) });
  return { status: r.status, type: r.headers.get("content-type"), cache: r.headers.get("cache-control"), body: new Uint8Array(await r.arrayBuffer()) };
}

const hashesOf = (tile: Uint8Array) => Array.from({ length: tile.length / 32 }, (_, i) => tile.subarray(32 * i, 32 * i + 32));

test("tile paths: the spec's index encoding; non-canonical paths refused", () => {
  assert.equal(tileIndexPath(1234067), "x001/x234/067");
  assert.equal(tileIndexPath(0), "000");
  assert.equal(tilePath({ kind: "hash", level: 1, n: 1234067, width: 17 }), "tile/1/x001/x234/067.p/17");
  assert.deepEqual(parseTilePath("tile/entries/x001/x234/067"), { ok: true, value: { kind: "entries", n: 1234067, width: 256 } });
  for (const p of ["tile/0/2", "tile/00/000", "tile/0/x000/000", "tile/64/000", "tile/0/000.p/0", "tile/0/000.p/256", "tile/0/000.p/012", "tile/0/000/", "tile/-1/000", "checkpoint"]) assert.equal(parseTilePath(p).ok, false, p);
  // tlog-tiles: a tree of 70,000 has 273 full level-0 tiles, a partial of 112, a full level-1 tile, a partial of 17, a partial level-2 tile of 1.
  const hashTiles = [...tilesOf(70_000)].filter((t) => t.kind === "hash");
  assert.equal(hashTiles.filter((t) => t.level === 0 && t.width === 256).length, 273);
  assert.deepEqual(hashTiles.filter((t) => t.width !== 256).map((t) => [t.level, t.width]), [[0, 112], [1, 17], [2, 1]]);
  assert.deepEqual([...tilesOf(256)].filter((t) => t.kind === "hash").map((t) => [t.level, t.width]), [[0, 256], [1, 1]]);
});

test("checkpoint and tiles of a 549-entry log rebuild the registry's RFC 9162 root; export-tiles writes the same files", async (t) => {
  const f = await startFederation({ names: ["A"] });
  t.after(() => f.close());
  const A = f.member("A");
  const ledger = A.registry.ledger!;
  ledger.db.tx(() => {
    for (let i = 0; i < 549; i++) ledger.local.append({ ev: "stolen", imeis: [freshImei()], by: "authority" });
  });
  const base = `${A.url}${TLOG_PREFIX}`;
  const cp = await get(`${base}checkpoint`);
  assert.equal(cp.status, 200);
  assert.equal(cp.type, "text/plain; charset=utf-8");
  const vkey = parseVerifierKey(ledger.verifierKey);
  assert.ok(vkey.ok);
  const opened = openCheckpoint(cp.body, vkey.value, ledger.origin);
  assert.ok(opened.ok, JSON.stringify(opened));
  const { size, root } = opened.value.checkpoint;
  assert.equal(size, 549);
  assert.deepEqual(root, ledger.db.tree.root(ledger.local.row.id, 549), "the checkpoint names the stored tree's root");
  assert.deepEqual(root, ledger.head().root, "and the COSE head's");

  const tile = async (p: string) => {
    const r = await get(base + p);
    assert.equal(r.status, 200, p);
    assert.equal(r.type, "application/octet-stream");
    assert.match(r.cache ?? "", /immutable/);
    return r.body;
  };
  const level0 = [await tile("tile/0/000"), await tile("tile/0/001"), await tile("tile/0/002.p/37")];
  assert.deepEqual(level0.map((x) => x.length), [8192, 8192, 37 * 32]);
  const bundles = [await tile("tile/entries/000"), await tile("tile/entries/001"), await tile("tile/entries/002.p/37")];
  bundles.forEach((b, i) => {
    const entries = parseEntryBundle(b);
    assert.ok(entries.ok);
    assert.deepEqual(entries.value.map(leafHash), hashesOf(level0[i]!), `bundle ${i} hashes to level-0 tile ${i}`);
    assert.deepEqual(entries.value, ledger.db.tree.entries(ledger.local.row.id, i * 256, i * 256 + entries.value.length));
  });
  const level1 = await tile("tile/1/000.p/2");
  assert.deepEqual(hashesOf(level1), level0.slice(0, 2).map((x) => new MemoryTree(hashesOf(x)).root()), "level 1 holds the roots of full level-0 tiles");
  // A tlog client's root: MTH(D[0:549]) = H(MTH(D[0:512]) || MTH(D[512:549])), from tiles only.
  const [l1a, l1b] = hashesOf(level1) as [Uint8Array, Uint8Array];
  assert.deepEqual(nodeHash(nodeHash(l1a, l1b), new MemoryTree(hashesOf(level0[2]!)).root()), root);

  for (const p of ["tile/0/002", "tile/0/002.p/38", "tile/1/000", "tile/2/000.p/1", "tile/entries/003.p/1", "tile/0/2", "nothing"]) assert.equal((await get(base + p)).status, 404, p);

  // export-tiles: the checkpoint and every tile of this size, as files a static server can serve.
  const dir = join(f.dir.path, "tiles");
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, [cli, "ledger", "export-tiles", "--registry", A.url, "--vkey", ledger.verifierKey, "--dir", dir], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (out += c));
    child.on("exit", (code) => resolve({ code, out }));
  });
  assert.equal(r.code, 0, r.out);
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, "checkpoint"))), cp.body);
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, "tile/0/002.p/37"))), level0[2]);
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, "tile/1/000.p/2"))), level1);
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, "tile/entries/001"))), bundles[1]);
  const bad = await new Promise<number | null>((resolve) => spawn(process.execPath, [cli, "ledger", "export-tiles", "--registry", A.url, "--vkey", "Other+00000000+AQ==", "--dir", dir]).on("exit", resolve));
  assert.equal(bad, 2, "a malformed verifier key is a usage error");
});
