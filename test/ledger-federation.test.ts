// Three registries (operators in different countries) federated over one real aedes broker, each
// with its own SQLite file: a theft reported at A is answered BLACKLISTED by B and C on the
// TS 29.511 endpoint; only A can clear it; a forged clear or a forged head changes nothing but
// raises alarms; published entries carry no IMEI; hostile ledger payloads change nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "mqtt";
import { toHex, ueidFromImei } from "../attestation/index.js";
import { signEntry } from "../registry/ledger/entry.js";
import { signTreeHead, verifyTreeHead } from "../registry/ledger/tree-head.js";
import { publicKeyFromRaw } from "../attestation/index.js";
import { ledgerTopic } from "../registry/ledger/topics.js";
import { FederationKey } from "../registry/ledger/pseudonym.js";
import { audit } from "../registry/ledger/auditor.js";
import { fullView, getJson, waitFor } from "./support/registry-sim.js";
import { eir, ownedHandset, send, startFederation, type Federation, type Member } from "./support/ledger-sim.js";

const logHex = (m: Member): string => toHex(m.key.kid);
const targets = (f: Federation) => f.members.map((m) => ({ url: m.url, publicKey: m.key.publicKey }));

async function publishRaw(f: Federation, topic: string, payload: Uint8Array | string, retain = false): Promise<void> {
  const c = connect(f.broker.url, { clientId: `at-test-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
  await new Promise<void>((resolve, reject) => {
    c.once("connect", () => resolve());
    c.once("error", reject);
  });
  await c.publishAsync(topic, typeof payload === "string" ? payload : Buffer.from(payload), { qos: 1, retain });
  await c.endAsync();
}

async function stolenAtA(f: Federation) {
  const A = f.member("A");
  const h = await ownedHandset(f, A);
  const r = await send(A, h.owner, { type: "report-stolen", imei: h.imei, message: "stolen", contact: "+1 555 0100" });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return h;
}

test("a stolen report at A makes B and C answer BLACKLISTED; found at A clears it at B and C", async (t) => {
  const f = await startFederation();
  t.after(() => f.close());
  const [A, B, C] = f.members as [Member, Member, Member];
  const h = await ownedHandset(f, A);
  t.after(() => h.device.crash());
  for (const m of [B, C]) assert.equal((await eir(m, h.imei)).status, 404, "unknown to the peers before the report");
  const r = await send(A, h.owner, { type: "report-stolen", imei: h.imei });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  for (const m of [A, B, C]) {
    await waitFor(async () => (await eir(m, h.imei)).body.status === "BLACKLISTED", `BLACKLISTED at ${m.name}`);
  }
  // imeisv form and the public view at a peer
  const sv = await getJson(`${B.url}/n5g-eir-eic/v1/equipment-status?pei=imeisv-${h.imei.slice(0, 14)}01`);
  assert.deepEqual(sv.body, { status: "BLACKLISTED" });
  const view = await fullView(C.url, C.authority, h.imei);
  assert.equal(view.status, 200);
  assert.equal(view.body.status, "BLACKLISTED");
  assert.deepEqual(view.body.devices, []);
  assert.equal(view.body.peerFlags[0].kind, "stolen");
  assert.equal(view.body.peerFlags[0].registry, "A");
  assert.equal(view.body.peerFlags[0].log, logHex(A));

  const found = await send(A, h.owner, { type: "found", imei: h.imei });
  assert.equal(found.status, 200, JSON.stringify(found.body));
  for (const m of [B, C]) await waitFor(async () => (await eir(m, h.imei)).status === 404, `cleared at ${m.name}`);
  assert.equal((await eir(A, h.imei)).body.status, "WHITELISTED");
  await f.idle();
  // A's log: the stolen entry, then "found" naming it; the peers hold the same log.
  const sth = (await getJson(`${A.url}/antitheft/v1/ledger/sth`)).body;
  assert.equal(sth.size, 2);
  for (const m of [B, C]) {
    const mirrored = (await getJson(`${m.url}/antitheft/v1/ledger/sth?log=${logHex(A)}`)).body;
    assert.equal(mirrored.root, sth.root, `${m.name} mirrors A's log`);
  }
  const report = await audit(targets(f));
  assert.equal(report.inconsistent, false, JSON.stringify(report.findings, null, 1));
  assert.equal(report.unreachable, false);
});

test("published entries carry no IMEI, only keyed pseudonyms; a wrong federation key matches nothing", async (t) => {
  const f = await startFederation();
  t.after(() => f.close());
  const A = f.member("A");
  const h = await stolenAtA(f);
  t.after(() => h.device.crash());
  await f.idle();
  const body = (await getJson(`${A.url}/antitheft/v1/ledger/entries?start=0`)).body;
  assert.equal(body.entries.length, 1);
  const bytes = Buffer.from(body.entries[0], "base64");
  for (const needle of [h.imei, h.imei.slice(0, 14), Buffer.from(ueidFromImei(h.imei)).toString("latin1"), Buffer.from(h.imei.slice(0, 14), "hex").toString("latin1")]) {
    assert.equal(bytes.includes(Buffer.from(needle, "latin1")), false, "no form of the IMEI in the entry");
  }
  const pseudonym = new FederationKey(f.federationKey).pseudonym(h.imei);
  assert.ok(bytes.includes(Buffer.from(pseudonym)), "the keyed pseudonym is there");
  assert.equal(bytes.includes(Buffer.from(new FederationKey(new Uint8Array(32).fill(9)).pseudonym(h.imei))), false);
});

test("B cannot clear A's flag: B's authority is refused, and a clear B signs in its own log changes nothing at C", async (t) => {
  const f = await startFederation();
  t.after(() => f.close());
  const [A, B, C] = f.members as [Member, Member, Member];
  const h = await stolenAtA(f);
  t.after(() => h.device.crash());
  for (const m of [B, C]) await waitFor(async () => (await eir(m, h.imei)).body.status === "BLACKLISTED", `BLACKLISTED at ${m.name}`);
  // B's pinned authority asks B to clear: refused, the flag was raised at A.
  const r = await send(B, B.authority, { type: "clear", imei: h.imei, reason: "bribed" });
  assert.equal(r.status, 403, JSON.stringify(r.body));
  assert.equal(r.body.code, "E_NOT_FLAGGING_PARTY");
  assert.match(r.body.message, /registry A/);
  // A malicious B signs, with its own key, a flag and a "cleared" entry naming A's entry 0 in B's
  // log; and an entry that claims to be in A's log. C verifies each under the right key.
  const fk = new FederationKey(f.federationKey);
  const base = { log: B.key.kid, ts: Date.now(), sub: [fk.pseudonym(h.imei)], fk: fk.id };
  const own0 = signEntry({ ...base, seq: 0, ev: "lost", by: "owner" }, B.key.signer);
  const own1 = signEntry({ ...base, seq: 1, ev: "cleared", by: "registry", ref: 0 }, B.key.signer);
  const asA = signEntry({ ...base, log: A.key.kid, seq: 1, ev: "cleared", by: "registry", ref: 0 }, B.key.signer);
  await publishRaw(f, ledgerTopic(logHex(B), "entry"), own0);
  await publishRaw(f, ledgerTopic(logHex(B), "entry"), own1);
  await publishRaw(f, ledgerTopic(logHex(A), "entry"), asA);
  await waitFor(() => C.log.named("ledger.refused").some((e) => e.log === logHex(A) && e.kind === "entry"), "C refuses the entry B signed for A's log");
  await f.idle();
  assert.equal((await eir(C, h.imei)).body.status, "BLACKLISTED", "A's flag stands at C");
  assert.equal((await eir(B, h.imei)).body.status, "BLACKLISTED", "and at B");
  const flags = (await fullView(C.url, C.authority, h.imei)).body.peerFlags;
  assert.deepEqual(flags.map((x: { registry: string; kind: string }) => `${x.registry}:${x.kind}`), ["A:stolen"], "B's lost flag was cleared by B itself; A's stands");
});

test("a forked tree head of A is detected by B, C, A itself and the auditor; A's clears no longer count", async (t) => {
  const f = await startFederation();
  t.after(() => f.close());
  const [A, B, C] = f.members as [Member, Member, Member];
  const h = await stolenAtA(f);
  t.after(() => h.device.crash());
  for (const m of [B, C]) await waitFor(async () => (await eir(m, h.imei)).body.status === "BLACKLISTED", `BLACKLISTED at ${m.name}`);
  await f.idle();
  assert.equal((await audit(targets(f))).inconsistent, false);
  // Someone with A's key (A itself, or a thief of its key) signs a second head of the same size.
  const real = A.registry.ledger!.head();
  const forged = signTreeHead({ log: real.log, size: real.size, root: new Uint8Array(32).fill(0xee), ts: real.ts + 1 }, A.key.signer);
  assert.ok(verifyTreeHead(forged.cose, publicKeyFromRaw(A.key.publicKey), A.key.kid).ok, "the forged head is validly signed");
  await publishRaw(f, ledgerTopic(logHex(A), "gossip"), forged.cose);
  for (const m of [A, B, C]) {
    await waitFor(async () => (await getJson(`${m.url}/antitheft/v1/ledger/alarms`)).body.alarms.some((a: { code: string; log: string }) => a.code === "E_LEDGER_FORK" && a.log === logHex(A)), `fork alarm at ${m.name}`);
    assert.ok(m.log.events.some((e) => e.level === "error" && e.event === "ledger.alarm" && e.fields.code === "E_LEDGER_FORK"), `logged at ${m.name}`);
  }
  const report = await audit(targets(f));
  assert.equal(report.inconsistent, true);
  assert.ok(report.findings.some((x) => x.level === "fail" && x.code === "E_LEDGER_FORK" && x.log === logHex(A)), JSON.stringify(report.findings, null, 1));
  // Fail closed: A's later "found" is mirrored, but a forked log is not trusted to clear.
  const found = await send(A, h.owner, { type: "found", imei: h.imei });
  assert.equal(found.status, 200);
  await waitFor(async () => (await getJson(`${B.url}/antitheft/v1/ledger/entries?log=${logHex(A)}&start=0`)).body.size === 2, "B mirrors A's found entry");
  const view = (await fullView(B.url, B.authority, h.imei)).body;
  assert.equal(view.status, "BLACKLISTED");
});

test("hostile payloads on every ledger topic: nothing changes, nothing crashes, refusals are logged", async (t) => {
  const f = await startFederation({ names: ["A", "B"] });
  t.after(() => f.close());
  const [A, B] = f.members as [Member, Member];
  await f.converged();
  const tables = ["ledger_logs", "ledger_entries", "ledger_nodes", "ledger_heads", "ledger_alarms", "ledger_peer_flags"];
  const snap = (m: Member) => tables.map((x) => JSON.stringify(m.registry.store.db.prepare(`SELECT * FROM ${x}`).all())).join("\n");
  const before = [snap(A), snap(B)];
  const garbage = [new Uint8Array(0), Uint8Array.of(0xff), Uint8Array.of(0xd2, 0x84), new Uint8Array(17 * 1024), Buffer.from("not cbor")];
  for (const who of [A, B]) {
    for (const kind of ["entry", "sth", "gossip", "alarm", "get", "checkpoint"] as const) {
      for (const g of garbage) await publishRaw(f, ledgerTopic(logHex(who), kind), g);
    }
  }
  await publishRaw(f, "at/v1/ledger/zz/entry", "x");
  await publishRaw(f, `at/v1/ledger/${"0".repeat(32)}/entry`, "x");
  await waitFor(() => B.log.named("ledger.refused").length >= 8, "refusals logged");
  await f.idle();
  assert.deepEqual([snap(A), snap(B)], before);
  assert.ok(B.log.named("ledger.dropped").some((e) => String(e.reason).includes("16 KiB")));
  // Both still work.
  const h = await stolenAtA(f);
  t.after(() => h.device.crash());
  await waitFor(async () => (await eir(B, h.imei)).body.status === "BLACKLISTED", "B still federates");
});
