// `antitheft audit --tlog`: the auditor over the C2SP formats, against a registry's tlog prefix
// and against a static copy (antitheft ledger export-tiles) served by a plain file server: clean
// when untouched, incremental from its state, and a copy whose entry bundle was altered is caught.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync, writeFileSync } from "node:fs";
import { join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { parseVerifierKey } from "../registry/ledger/note.js";
import { auditTlog } from "../registry/ledger/tlog-auditor.js";
import { TLOG_PREFIX } from "../registry/ledger/tlog-http.js";
import { freshImei } from "./support/registry-sim.js";
import { startFederation } from "./support/ledger-sim.js";

const cli = fileURLToPath(new URL("../cli/antitheft.js", import.meta.url));
function run(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (c) => (out += c));
  child.stderr.on("data", (c) => (out += c));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, out })));
}

test("audit over tlog-tiles: a registry and a static copy audit clean and incrementally; an altered bundle is caught", async (t) => {
  const f = await startFederation({ names: ["A"] });
  t.after(() => f.close());
  const A = f.member("A");
  const ledger = A.registry.ledger!;
  const grow = (n: number) => ledger.db.tx(() => {
    for (let i = 0; i < n; i++) ledger.local.append({ ev: "stolen", imeis: [freshImei()], by: "authority" });
  });
  grow(300);
  const key = parseVerifierKey(ledger.verifierKey);
  assert.ok(key.ok);
  const target = { prefix: `${A.url}${TLOG_PREFIX}`, key: key.value };
  const first = await auditTlog(target, undefined);
  assert.deepEqual(first.findings.map((x) => x.level), ["ok"], JSON.stringify(first.findings));
  assert.equal(first.state?.size, 300);
  grow(20);
  const second = await auditTlog(target, first.state);
  assert.deepEqual(second.findings.map((x) => x.level), ["ok"], JSON.stringify(second.findings));
  assert.match(second.findings[0]!.message, /an extension of the one of size 300/);

  // A static copy, served by a plain file server.
  const dir = join(f.dir.path, "static");
  const exported = await run(["ledger", "export-tiles", "--registry", A.url, "--vkey", ledger.verifierKey, "--dir", dir]);
  assert.equal(exported.code, 0, exported.out);
  const server = createServer((req, res) => {
    try {
      const body = readFileSync(join(dir, normalize(decodeURIComponent(new URL(req.url!, "http://x").pathname)).replace(/^(\.\.[/\\])+/, "")));
      res.writeHead(200).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const statePath = join(f.dir.path, "audit.json");
  const clean = await run(["audit", "--tlog", url, "--log-key", ledger.verifierKey, "--state", statePath]);
  assert.equal(clean.code, 0, clean.out);
  assert.equal(JSON.parse(readFileSync(statePath, "utf8")).tlog[key.value.name].size, 320);

  // The copy's last bundle altered (one byte of an entry): the entries no longer hash to the tile.
  const bundle = join(dir, "tile/entries/001.p/64");
  const bytes = readFileSync(bundle);
  bytes[bytes.length - 1]! ^= 1;
  writeFileSync(bundle, bytes);
  const caught = await auditTlog({ prefix: url, key: key.value }, undefined);
  assert.ok(caught.findings.some((x) => x.level === "fail" && x.code === "E_LEDGER_INCLUSION"), JSON.stringify(caught.findings));
  const cliCaught = await run(["audit", "--tlog", url, "--log-key", ledger.verifierKey]);
  assert.equal(cliCaught.code, 1, cliCaught.out);
  // A stale checkpoint (the saved state is newer) is a warning and the state is kept.
  const stale = await auditTlog(target, { ...second.state!, size: 400 });
  assert.equal(stale.findings[0]!.code, "E_LEDGER_STALE");
  assert.equal(stale.state!.size, 400);
});
