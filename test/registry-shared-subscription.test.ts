// Registry workers behind an MQTT 5 shared subscription (docs/CONFORMANCE.md "Registry
// workers with MQTT 5 shared subscriptions"): several registries on ONE SQLite file subscribe as
// `$share/<group>/at/v1/d/+/...` on a real Mosquitto, which hands each message to one of them
// round robin, whoever published it. Challenges and hello endorsements live in the database
// (registry/challenges.ts), so an attestation may reach any worker; a nonce is used once across
// workers; writers serialise with BEGIN IMMEDIATE (registry/store.ts).
//  1. two `antitheft registry` OS processes: 48 handsets enrol (both workers take part, and
//     answers reach the worker that did not send the challenge), a mass flag locks every one
//     with each result recorded once, concurrent flags at both workers get distinct command
//     numbers, a replayed attestation is refused, and one answer delivered twice enrols once;
//  2. two Registry instances in this process, driven message by message: a challenge sent by A
//     and answered at B enrols; the answer replayed at A is refused; one answer handed to both
//     at once is accepted by exactly one.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import mqtt from "mqtt";
import { decodeChallenge, deviceTopic, encodeAttestation, encodeHello } from "../protocol/messages.js";
import { MemoryLogger } from "../agent/log.js";
import { buildRequest } from "../registry/request-codec.js";
import { Registry } from "../registry/registry.js";
import { Store } from "../registry/store.js";
import { Challenges } from "../registry/challenges.js";
import { handleAttestation, handleHello } from "../registry/enrolment.js";
import { signingKey } from "../registry/keys.js";
import { generateEd25519 } from "../attestation/index.js";
import { needTool } from "./support/system-tools.js";
import { startMosquitto, type MosquittoHandle } from "./support/brokers.js";
import { createWorld, RegistryProcess, type LogEvent, type World } from "./support/e2e.js";
import { OEM_PUBLIC_PEM } from "./support/attestation-fixture.js";
import { OEM, postCose, refHandset, SimDevice, tempDir, waitFor } from "./support/registry-sim.js";

const GROUP = "registry";
const HANDSETS = 48;

/** Counts, by worker, of log events named `event` (and matching `pred`). */
function byWorker(workers: readonly RegistryProcess[], event: string, pred: (e: LogEvent) => boolean = () => true): number[] {
  return workers.map((w) => w.find((e) => e.event === event && pred(e)).length);
}

async function cleanup(t: TestContext, steps: (() => unknown)[]): Promise<void> {
  for (const s of steps) {
    try {
      await s();
    } catch (e) {
      t.diagnostic(`clean-up: ${String(e)}`);
    }
  }
}

test("two registry processes on one database behind a Mosquitto shared subscription: enrolment, mass lock, single use", async (t) => {
  if (!needTool(t, "mosquitto")) return;
  const world: World = createWorld("at-shared-");
  const devices: SimDevice[] = [];
  let broker: MosquittoHandle | undefined;
  const workers: RegistryProcess[] = [];
  let db: Database.Database | undefined;
  t.after(() => cleanup(t, [() => devices.forEach((d) => d.crash()), ...workers.map((w) => () => w.stop()), () => db?.close(), () => broker?.stop(), () => world.cleanup()]));

  broker = await startMosquitto({ extraConfig: ["max_queued_messages 10000"] });
  const oemPub = join(world.dir, "fixture-oem.pub"); // the handsets below are endorsed by the fixture OEM
  writeFileSync(oemPub, OEM_PUBLIC_PEM);
  const dbPath = join(world.dir, "registry.sqlite");
  const start = (name: string) =>
    RegistryProcess.start({ world, broker: broker!.url, protocolVersion: 5, db: dbPath, name, args: ["--share-group", GROUP, "--oem-pub", oemPub] });
  // Both at once on a new file: one migrates, the other finds it migrated.
  workers.push(...(await Promise.all([start("w1"), start("w2")])));
  const [w1, w2] = workers as [RegistryProcess, RegistryProcess];
  db = new Database(dbPath, { readonly: true, fileMustExist: true });
  const one = (sql: string, ...args: unknown[]): number => db!.prepare(sql).pluck().get(...args) as number;

  // --- 48 handsets enrol --------------------------------------------------------------------
  const t0 = Date.now();
  const handsets = Array.from({ length: HANDSETS }, () => refHandset([world.registry.publicKey]));
  for (const hs of handsets) devices.push(new SimDevice({ broker: broker.url, ta: hs.ta, endorsement: hs.endorsement, protocolVersion: 5 }));
  await Promise.all(devices.map((d) => d.connect()));
  await waitFor(() => one("SELECT count(*) FROM devices") === HANDSETS, `${HANDSETS} enrolments`, 10_000);
  const enrolMs = Date.now() - t0;
  // The log lines may trail the commit a little.
  await waitFor(() => byWorker(workers, "device.enrolled").reduce((x, y) => x + y, 0) >= HANDSETS, "the workers' enrolment logs");
  const enrolled = byWorker(workers, "device.enrolled");
  const names = ["w1", "w2"];
  const crossedBy = (dids?: Set<string>) =>
    workers.map((w, i) => w.find((e) => e.event === "device.enrolled" && e.challengedBy !== names[i] && (!dids || dids.has(String(e.did)))).length);
  const crossed = crossedBy();
  t.diagnostic(`enrolled ${HANDSETS} in ${enrolMs} ms: w1 ${enrolled[0]}, w2 ${enrolled[1]}; answers to the other worker's challenge: w1 ${crossed[0]}, w2 ${crossed[1]}`);
  assert.deepEqual(byWorker(workers, "attestation.refused"), [0, 0], "no attestation refused");
  assert.equal(enrolled[0]! + enrolled[1]!, HANDSETS, "each handset enrolled once");
  assert.ok(enrolled[0]! > 0 && enrolled[1]! > 0, "both workers enrolled handsets");
  assert.equal(one("SELECT count(*) FROM events WHERE type = 'enrolled'"), HANDSETS);
  assert.equal(one("SELECT count(*) FROM challenges"), 0, "every challenge used");
  assert.equal(one("SELECT count(*) FROM pending_hellos"), 0, "every hello settled");

  // --- answers to the other worker's challenge, for certain --------------------------------------
  // Whether a flood's answers reach the worker that sent the challenge depends on how the two
  // round robins (hello, attestation) line up. Here 8 handsets take their challenges first; the
  // answers then go out one at a time, two per sending worker in a row, so the broker cannot give
  // both of a pair to the worker that sent them (round robin alternates; random would have to
  // avoid crossing 8 times in a row).
  const held = Array.from({ length: 8 }, () => refHandset([world.registry.publicKey]));
  const heldDevices = held.map((h) => new SimDevice({ broker: broker!.url, ta: h.ta, endorsement: h.endorsement, protocolVersion: 5, attest: false }));
  devices.push(...heldDevices);
  await Promise.all(heldDevices.map((d) => d.connect()));
  await waitFor(() => heldDevices.every((d) => d.challenges.length === 1) && one("SELECT count(*) FROM challenges") === heldDevices.length, "the held handsets' challenges");
  const issuer = new Map(db.prepare("SELECT did, issued_by FROM challenges").raw().all() as [string, string][]);
  const queue = names.map((n) => heldDevices.map((_, i) => i).filter((i) => issuer.get(heldDevices[i]!.did) === n));
  const sentBy = queue.map((q) => q.length);
  const order: number[] = [];
  while (queue.some((q) => q.length > 0)) for (const q of queue) order.push(...q.splice(0, 2));
  for (const i of order) await heldDevices[i]!.publish("attestation", encodeAttestation({ token: held[i]!.ta.attest(heldDevices[i]!.challenges[0]!) }));
  const heldDids = new Set(heldDevices.map((d) => d.did));
  await waitFor(() => byWorker(workers, "device.enrolled", (e) => heldDids.has(String(e.did))).reduce((x, y) => x + y, 0) === heldDids.size, "the held handsets enrolled");
  const heldCrossed = crossedBy(heldDids);
  t.diagnostic(`held handsets: challenges sent by w1 ${sentBy[0]}, w2 ${sentBy[1]}; answered at the other worker: ${heldCrossed[0]! + heldCrossed[1]!} of ${heldDids.size}`);
  assert.ok(heldCrossed[0]! + heldCrossed[1]! > 0, "attestations answering the other worker's challenge enrol");
  assert.deepEqual(byWorker(workers, "attestation.refused"), [0, 0], "no attestation refused");
  const fleet = HANDSETS + held.length;

  // --- a mass flag at w1 locks every handset; each result is recorded once ---------------------
  const all = [...handsets, ...held];
  const imeis = all.map((h) => h.ta.id.imei);
  const batch = await postCose(`${w1.url}/antitheft/v1/requests`, buildRequest(world.authority.signer, { type: "flag-batch", imei: imeis[0]!, imeis, reason: "a stolen shipment" }, world.registry.kid));
  assert.equal(batch.status, 200, JSON.stringify(batch.body));
  assert.equal(batch.body.commands.length, fleet);
  await waitFor(() => one("SELECT count(*) FROM commands WHERE seq = 1 AND status = 'SUCCEEDED'") === fleet, "every lock result", 10_000);
  assert.ok(all.every((h) => h.ta.lockState === 2), "every handset locked");
  // Each handset answers the command and the retained desired state: two results per lock,
  // handed to either worker; only the first may be recorded.
  await waitFor(() => devices.every((d) => d.commands.length >= 2), "both copies of every lock answered", 10_000);
  const perResult = db.prepare("SELECT count(*) AS n FROM events WHERE type = 'command-result' GROUP BY did, json_extract(detail, '$.seq')").pluck().all() as number[];
  assert.equal(perResult.length, fleet, "a result for every lock");
  assert.ok(perResult.every((n) => n === 1), `every result recorded once (counts ${[...new Set(perResult)].join(", ")})`);
  await waitFor(() => byWorker(workers, "command.result").reduce((x, y) => x + y, 0) >= fleet, "the workers' result logs");
  const results = byWorker(workers, "command.result");
  t.diagnostic(`lock results taken: w1 ${results[0]}, w2 ${results[1]}`);
  assert.ok(results[0]! > 0 && results[1]! > 0, "both workers took results");

  // --- concurrent commands for one device at both workers get distinct sequence numbers --------
  const contested = imeis.slice(0, 12);
  const flagAt = (w: RegistryProcess, imei: string) => postCose(`${w.url}/antitheft/v1/requests`, buildRequest(world.authority.signer, { type: "flag", imei, reason: "again" }, world.registry.kid));
  const answers = await Promise.all(contested.flatMap((imei) => [flagAt(w1, imei), flagAt(w2, imei)]));
  assert.ok(answers.every((a) => a.status === 200), JSON.stringify(answers.find((a) => a.status !== 200)?.body));
  for (const [i, imei] of contested.entries()) {
    const seqs = [answers[2 * i]!, answers[2 * i + 1]!].map((a) => a.body.commands[0].seq as number).sort();
    assert.deepEqual(seqs, [2, 3], `${imei}: the two workers' commands are numbered 2 and 3`);
  }
  assert.equal(one("SELECT count(*) FROM commands"), fleet + 2 * contested.length);

  // --- a replayed attestation is refused, whichever worker takes it ---------------------------
  const d0 = devices[0]!;
  const attestedBefore = one("SELECT count(*) FROM events WHERE type = 'attested' AND did = ?", d0.did);
  const replay = encodeAttestation({ token: handsets[0]!.ta.attest(d0.challenges[0]!) });
  await d0.publish("attestation", replay);
  await d0.publish("attestation", replay);
  const refusedOf = (did: string) => workers.flatMap((w) => w.find((e) => e.event === "attestation.refused" && e.did === did));
  await waitFor(() => refusedOf(d0.did).length === 2, "both replays refused");
  assert.ok(refusedOf(d0.did).every((e) => String(e.reason).startsWith("E_NONCE_UNKNOWN")));
  assert.equal(one("SELECT count(*) FROM events WHERE type = 'attested' AND did = ?", d0.did), attestedBefore);

  // --- one genuine answer delivered twice (round robin: to both workers) enrols once ----------
  const late = refHandset([world.registry.publicKey]);
  const x = new SimDevice({ broker: broker.url, ta: late.ta, endorsement: late.endorsement, protocolVersion: 5, attest: false });
  devices.push(x);
  await x.connect();
  const nonce = await waitFor(() => x.challenges[0], "the late handset's challenge");
  const answer = encodeAttestation({ token: late.ta.attest(nonce) });
  await Promise.all([x.publish("attestation", answer), x.publish("attestation", answer)]);
  await waitFor(() => refusedOf(x.did).length === 1, "the second copy refused");
  await waitFor(() => one("SELECT count(*) FROM devices WHERE did = ?", x.did) === 1, "the late handset enrolled");
  assert.equal(one("SELECT count(*) FROM events WHERE type = 'attested' AND did = ?", x.did), 1, "accepted once");
  assert.match(String(refusedOf(x.did)[0]!.reason), /^E_NONCE_UNKNOWN/);
  const takers = workers.map((w) => w.find((e) => e.did === x.did && (e.event === "device.enrolled" || e.event === "attestation.refused")).length);
  t.diagnostic(`the doubled answer: taken by w1 ${takers[0]}x, w2 ${takers[1]}x`);
  assert.deepEqual(byWorker(workers, "attestation.failed"), [0, 0]);
});

test("in one process: a challenge sent by worker A is answered at worker B; replays and a doubled answer are refused", async (t) => {
  if (!needTool(t, "mosquitto")) return;
  const broker = await startMosquitto();
  const dir = tempDir("at-shared-inproc-");
  const dbPath = join(dir.path, "registry.sqlite");
  const registryKey = signingKey(generateEd25519().privateKey);
  const logs = { a: new MemoryLogger(), b: new MemoryLogger() };
  const make = (name: "a" | "b") =>
    new Registry({ db: dbPath, registryKey, oemRoots: [OEM.publicKey], mqtt: { url: broker.url, name, protocolVersion: 5, shareGroup: GROUP }, log: logs[name] });
  const a = make("a");
  const b = make("b");
  const observer = mqtt.connect(broker.url, { protocolVersion: 5 });
  t.after(() => cleanup(t, [() => observer.endAsync(), () => a.stop(), () => b.stop(), () => broker.stop(), () => dir.cleanup()]));
  await Promise.all([a.start(), b.start()]);
  await new Promise<void>((r) => (observer.connected ? r() : observer.once("connect", () => r())));

  const hs = refHandset([registryKey.publicKey]);
  const did = new SimDevice({ broker: broker.url, ta: hs.ta, endorsement: hs.endorsement }).did;
  const nonces: Uint8Array[] = [];
  observer.on("message", (_topic, payload) => nonces.push(decodeChallenge(new Uint8Array(payload)).nonce));
  await observer.subscribeAsync(deviceTopic(did, "challenge"), { qos: 1 });
  const hello = encodeHello({ endorsement: hs.endorsement, bootcount: 1, lock: 0, seq: 0, agent: "sim/1" });
  const attested = (): number => a.store.db.prepare("SELECT count(*) FROM events WHERE type = 'attested' AND did = ?").pluck().get(did) as number;

  // A takes the hello and sends the challenge (after its commit); B takes the answer.
  await handleHello(a.ctx, did, hello);
  const n1 = await waitFor(() => nonces[0], "A's challenge");
  assert.equal(a.store.challenges.count(), 1);
  const answer1 = encodeAttestation({ token: hs.ta.attest(n1) });
  await handleAttestation(b.ctx, did, answer1);
  assert.ok(b.store.devices.get(did), "B enrolled the device from A's challenge");
  assert.equal(logs.b.named("device.enrolled")[0]!.challengedBy, "a");
  assert.equal(attested(), 1);

  // The same answer again, at A and at B: the nonce is used.
  await handleAttestation(a.ctx, did, answer1);
  await handleAttestation(b.ctx, did, answer1);
  assert.deepEqual([...logs.a.named("attestation.refused"), ...logs.b.named("attestation.refused")].map((e) => String(e.reason).slice(0, 15)), ["E_NONCE_UNKNOWN", "E_NONCE_UNKNOWN"]);
  assert.equal(attested(), 1);

  // A new challenge from B; one answer handed to both workers in the same turn: both verify it,
  // both try to use the nonce in their own transaction, exactly one succeeds.
  await handleHello(b.ctx, did, hello);
  const n2 = await waitFor(() => nonces[1], "B's challenge");
  const answer2 = encodeAttestation({ token: hs.ta.attest(n2) });
  const refusedBefore = logs.a.named("attestation.refused").length + logs.b.named("attestation.refused").length;
  const attestedAt = a.store.devices.get(did)!.lastAttested;
  await new Promise((r) => setTimeout(r, 5));
  await Promise.all([handleAttestation(a.ctx, did, answer2), handleAttestation(b.ctx, did, answer2)]);
  const refused = [...logs.a.named("attestation.refused"), ...logs.b.named("attestation.refused")].slice(refusedBefore);
  assert.equal(refused.length, 1, "exactly one of the two refused");
  assert.match(String(refused[0]!.reason), /^E_NONCE_UNKNOWN/);
  assert.ok(a.store.devices.get(did)!.lastAttested > attestedAt, "the answer counted");
  assert.equal(attested(), 1, "the same state attested again appends no event (the log records changes)");
  assert.equal(a.store.challenges.count(), 0);
  assert.equal(a.store.pendingHellos.get(did), undefined);
});

test("the challenges table: bound to the did, single use, 4 per device, expiry and purge", () => {
  const store = Store.open(":memory:");
  let now = 1_000_000;
  let counter = 0;
  const c = new Challenges(store, { worker: "w", ttlMs: 60_000, now: () => now, random: (n) => new Uint8Array(n).fill(++counter) });
  const did = "0".repeat(32);
  const issued = Array.from({ length: 5 }, () => (now++, store.tx(() => c.issue(did))));
  assert.equal(store.challenges.count(), 4, "the oldest of five forgotten");
  assert.equal(c.outstanding(did, issued[0]!), undefined);
  assert.equal(c.outstanding(did, issued[4]!), now);
  assert.equal(c.outstanding("1".repeat(32), issued[4]!), undefined, "bound to the did it was sent to");
  assert.equal(store.tx(() => c.take(did, issued[4]!)), "w");
  assert.equal(store.challenges.count(), 0, "a used challenge settles the device's others");
  assert.throws(() => store.tx(() => c.take(did, issued[4]!)), { code: "E_NONCE_UNKNOWN" });
  const late = store.tx(() => c.issue(did));
  now += 60_001;
  assert.equal(c.hasFresh(did), false);
  assert.throws(() => store.tx(() => c.take(did, late)), { code: "E_NONCE_EXPIRED" });
  assert.equal(store.challenges.count(), 1, "a refused use changes nothing");
  now += 60_000;
  store.tx(() => c.issue(did)); // purges what is older than twice the TTL
  assert.equal(c.outstanding(did, late), undefined);
  assert.equal(c.hasFresh(did), true);
  store.close();
});
