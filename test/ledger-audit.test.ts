// The auditor against real registries: a row altered in a registry's SQLite file (by SQL, behind
// the append-only triggers) is caught; a restart keeps the log, its heads and its proofs; a peer
// that was offline catches up; `antitheft audit` exits 0 / 1 / 3 / 2 as documented.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { publicKeyFromRaw, toHex } from "../attestation/index.js";
import { audit } from "../registry/ledger/auditor.js";
import { verifyInclusion } from "../registry/ledger/verify.js";
import { getJson, waitFor } from "./support/registry-sim.js";
import { eir, ownedHandset, send, startFederation, type Federation, type Member } from "./support/ledger-sim.js";

const cli = fileURLToPath(new URL("../cli/antitheft.js", import.meta.url));
const target = (m: Member) => ({ url: m.url, publicKey: m.key.publicKey });

async function steal(f: Federation, at: Member) {
  const h = await ownedHandset(f, at);
  const r = await send(at, h.owner, { type: "report-stolen", imei: h.imei });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return h;
}

const codes = (r: { findings: { level: string; code: string }[] }) => r.findings.filter((x) => x.level === "fail").map((x) => x.code);

test("an entry row altered in A's database by SQL is caught by the auditor (fresh, --full, and newest-entry proof)", async (t) => {
  const f = await startFederation({ names: ["A", "B"] });
  t.after(() => f.close());
  const A = f.member("A");
  const h1 = await steal(f, A);
  const h2 = await steal(f, A);
  t.after(() => [h1, h2].forEach((h) => h.device.crash()));
  await f.converged();
  const first = await audit([target(A)]);
  assert.deepEqual(codes(first), [], JSON.stringify(first.findings));
  // Rewrite history: entry 1 (the second theft) replaced by a copy of entry 0 - a validly
  // signed entry, so only its position and the tree give it away.
  const db = A.registry.store.db;
  const log = A.registry.ledger!.local.row.id;
  assert.throws(() => db.prepare("UPDATE ledger_entries SET cose = x'00' WHERE log = ? AND seq = 1").run(log), /append-only/);
  db.exec("DROP TRIGGER ledger_entries_no_update");
  db.prepare("UPDATE ledger_entries SET cose = (SELECT cose FROM ledger_entries WHERE log = ? AND seq = 0) WHERE log = ? AND seq = 1").run(log, log);

  const fresh = await audit([target(A)]);
  assert.equal(fresh.inconsistent, true);
  assert.ok(codes(fresh).includes("E_LEDGER_SEQ") && codes(fresh).includes("E_LEDGER_ROOT"), JSON.stringify(fresh.findings));
  const full = await audit([target(A)], first.state, { full: true });
  assert.ok(codes(full).includes("E_LEDGER_ROOT"), JSON.stringify(full.findings));
  const incremental = await audit([target(A)], first.state, { sample: 0 });
  assert.ok(codes(incremental).includes("E_LEDGER_INCLUSION"), `the newest entry is always proved: ${JSON.stringify(incremental.findings)}`);
  assert.deepEqual(full.state.logs[toHex(A.key.kid)], first.state.logs[toHex(A.key.kid)], "a failed log's state is not advanced");
});

test("a tree node altered in A's database: A's next head is inconsistent with the last one (auditor) and with B's mirror (alarm)", async (t) => {
  const f = await startFederation({ names: ["A", "B"] });
  t.after(() => f.close());
  const [A, B] = f.members as [Member, Member];
  const h1 = await steal(f, A);
  t.after(() => h1.device.crash());
  await f.converged();
  const first = await audit([target(A), target(B)]);
  assert.equal(first.inconsistent, false, JSON.stringify(first.findings));
  const db = A.registry.store.db;
  const log = A.registry.ledger!.local.row.id;
  db.exec("DROP TRIGGER ledger_nodes_no_update");
  db.prepare("UPDATE ledger_nodes SET hash = randomblob(32) WHERE log = ? AND level = 0 AND idx = 0").run(log);
  await A.restart(); // A's start-up check finds its tree no longer has the root it signed
  assert.ok((await getJson(`${A.url}/antitheft/v1/ledger/alarms`)).body.alarms.some((a: { code: string }) => a.code === "E_LEDGER_ROOT"));
  assert.ok(A.log.events.some((e) => e.event === "ledger.alarm" && e.fields.code === "E_LEDGER_ROOT"));
  const h2 = await steal(f, A); // A (still running) signs a head over the altered tree
  t.after(() => h2.device.crash());
  await waitFor(() => B.registry.ledger!.db.alarms.list().some((a) => a.code === "E_LEDGER_ROOT"), "B's mirror disagrees with A's new head");
  const again = await audit([target(A), target(B)], first.state);
  assert.ok(codes(again).includes("E_LEDGER_INCONSISTENT"), JSON.stringify(again.findings));
  assert.equal(again.inconsistent, true);
});

test("a restart keeps the log, its heads and proofs; an offline peer catches up and keeps applying flags", async (t) => {
  const f = await startFederation({ names: ["A", "B"] });
  t.after(() => f.close());
  const [A, B] = f.members as [Member, Member];
  const h1 = await steal(f, A);
  t.after(() => h1.device.crash());
  await f.converged();
  const before = (await getJson(`${A.url}/antitheft/v1/ledger/sth`)).body;
  const proof = (await getJson(`${A.url}/antitheft/v1/ledger/proof/inclusion?index=0&size=1`)).body;
  const state = (await audit([target(A)])).state;

  await A.restart();
  await B.restart();
  const after = (await getJson(`${A.url}/antitheft/v1/ledger/sth`)).body;
  assert.deepEqual(after, before, "the same signed head is served after the restart");
  assert.deepEqual((await getJson(`${A.url}/antitheft/v1/ledger/proof/inclusion?index=0&size=1`)).body, proof);
  const entry = Buffer.from((await getJson(`${A.url}/antitheft/v1/ledger/entries?start=0&end=1`)).body.entries[0], "base64");
  assert.ok(verifyInclusion(entry, 0, 1, proof.path.map((x: string) => Buffer.from(x, "hex")), Buffer.from(after.root, "hex")));
  assert.equal((await eir(B, h1.imei)).body.status, "BLACKLISTED", "B's peer flags survive its restart");

  // B goes offline; A records a theft; B comes back and catches up.
  await B.registry.stop();
  const h2 = await steal(f, A);
  t.after(() => h2.device.crash());
  await A.registry.idle();
  await B.restart();
  await waitFor(async () => (await eir(B, h2.imei)).body.status === "BLACKLISTED", "B catches up");
  await f.converged();
  const r = await audit([target(A), target(B)], state);
  assert.equal(r.inconsistent, false, JSON.stringify(r.findings));
  assert.ok(r.findings.some((x) => x.level === "ok" && /consistent with the previous head of size 1/.test(x.message)), JSON.stringify(r.findings));
});

function run(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (c) => (out += c));
  child.stderr.on("data", (c) => (out += c));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, out })));
}

test("antitheft audit: 0 when consistent (with a state file), 1 on a fork, 3 when unreachable, 2 on bad usage", async (t) => {
  const f = await startFederation({ names: ["A", "B"] });
  t.after(() => f.close());
  const [A, B] = f.members as [Member, Member];
  const h = await steal(f, A);
  t.after(() => h.device.crash());
  await f.converged();
  const pub = (m: Member) => {
    const p = join(f.dir.path, `${m.name}.pub`);
    writeFileSync(p, publicKeyFromRaw(m.key.publicKey).export({ format: "pem", type: "spki" }) as string);
    return p;
  };
  const argsFor = () => ["audit", "--registry", A.url, "--pub", pub(A), "--registry", B.url, "--pub", pub(B), "--state", join(f.dir.path, "audit.json")];
  const args = argsFor();
  const ok = await run(args);
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /consistent\n$/);
  const again = await run([...args, "--json"]);
  assert.equal(again.code, 0, again.out);
  assert.equal(JSON.parse(again.out).inconsistent, false);

  // A second registry process with A's key but another database: a split view of A's log.
  await A.restart({ db: join(f.dir.path, "A-prime.sqlite"), mqtt: undefined, ledger: { federationKey: f.federationKey, name: "A" } });
  const forked = await run(argsFor());
  assert.equal(forked.code, 1, forked.out);
  assert.match(forked.out, /FAIL E_LEDGER_(FORK|INCONSISTENT|STALE)/);
  assert.match(forked.out, /INCONSISTENT\n$/);

  const down = await run(["audit", "--registry", "http://127.0.0.1:9", "--pub", pub(A)]);
  assert.equal(down.code, 3, down.out);
  assert.match(down.out, /E_LEDGER_UNREACHABLE/);
  const usage = await run(["audit", "--registry", A.url]);
  assert.equal(usage.code, 2);
  assert.match(usage.out, /one --pub per --registry/);
});
