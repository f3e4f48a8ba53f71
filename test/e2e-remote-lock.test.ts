// Remote lock, end to end, with real components only: the release TA (build/ta.wasm),
// factory-provisioned handsets on disk whose agents run SimulatedHandset enforcers, the registry
// as a child process (`antitheft registry`: SQLite in a temp folder, HTTP on a loopback port),
// and a real broker. The same suite runs unchanged against aedes (MQTT 3.1.1), Mosquitto with
// MQTT 3.1.1 and Mosquitto with MQTT 5 (test/support/brokers.ts BROKER_CASES).
// The tests of one broker share one world and run in order (enrolment first); each names what it
// checks. Waits are conditions with timeouts; nothing here asserts speed.
import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { encodeDeterministic, fromHex, generateEd25519, ueidFromImei } from "../attestation/index.js";
import { lockScreenText } from "../agent/enforcement.js";
import { DEVICE_TOPICS, decodeResult, deviceTopic, encodeHeartbeat, MAX_PAYLOAD_BYTES, type DeviceTopicKind } from "../protocol/messages.js";
import { TA_ERRORS } from "../agent/ta-errors.js";
import { signCommand } from "../registry/commands.js";
import { signingKey } from "../registry/keys.js";
import { buildRequest } from "../registry/request-codec.js";
import { BROKER_CASES, type BrokerHandle } from "./support/brokers.js";
import { SECURE_BROKER_CASE } from "./support/secure-broker.js";
import { createWorld, Handset, Observer, Owner, RegistryProcess, runCli, snapshotDb, testImei, waitFor, type LogEvent, type World } from "./support/e2e.js";
import { hasTool, needTool } from "./support/system-tools.js";

const STOLEN_MESSAGE = "This phone was stolen. Reward for its return.";
const CONTACT = "+44 20 7946 0123";
const CMD = {
  SIGNATURE: TA_ERRORS.ERR_CMD_SIGNATURE.code,
  UEID: TA_ERRORS.ERR_CMD_UEID.code,
  DEVICE_KID: TA_ERRORS.ERR_CMD_DEVICE_KID.code,
  REPLAY: TA_ERRORS.ERR_CMD_REPLAY.code,
};

// The last case is the shipped deployment: mutual TLS, certificate identities, the ACL in force.
for (const bc of [...BROKER_CASES, SECURE_BROKER_CASE]) {
  describe(`remote lock end to end: ${bc.name}`, () => {
    const available = !bc.tool || hasTool(bc.tool);
    const v = bc.protocolVersion;
    let world: World;
    let broker: BrokerHandle;
    let registry: RegistryProcess;
    let observer: Observer;
    const handsets: Handset[] = [];
    const alice = new Owner("alice");
    const bob = new Owner("bob");
    const carol = new Owner("carol");
    const mallory = new Owner("mallory");
    /** alice's accepted report-stolen, kept to replay it later. */
    let aliceReport: Uint8Array | undefined;

    /** Skips (locally) or fails (CI) when the broker needs a missing tool. */
    const ready = (t: TestContext): boolean => (bc.tool ? needTool(t, bc.tool) : true);
    const h = (i: 1 | 2 | 3): Handset => handsets[i - 1]!;
    const view = async (hs: Handset) => (await registry.device(hs.imei)).devices[0]!;
    /** The registry has the handset's result: no open command, the attested lock state as asked. */
    const settled = (hs: Handset, lock: 0 | 2) =>
      waitFor(async () => {
        const d = await view(hs);
        return d.pendingCommand === null && d.lockState === lock;
      }, `${hs.name}'s result at the registry (lock state ${lock})`);

    before(async () => {
      if (!available) return;
      world = createWorld();
      broker = await bc.start();
      const sec = broker.secured;
      registry = await RegistryProcess.start({ world, broker: broker.url, protocolVersion: v, ...(sec ? { name: sec.registryName, args: sec.registryArgs } : {}) });
      observer = await Observer.connect(broker.url, v, undefined, sec?.observer);
      for (let i = 1; i <= 3; i++) handsets.push(await Handset.provision(world, `handset-${i}`, testImei(380 + i), undefined, sec?.deviceCa));
      await h(2).folder.writeUserData("photo-0001.jpg", new Uint8Array(randomBytes(512)));
    });

    after(async () => {
      for (const hs of handsets) await hs.stop(true).catch(() => undefined);
      await observer?.close().catch(() => undefined);
      await registry?.stop();
      await broker?.stop();
      world?.cleanup();
    });

    test("three factory-provisioned handsets enrol: WHITELISTED, unclaimed, unlocked", async (t) => {
      if (!ready(t)) return;
      for (const hs of handsets) assert.equal(await registry.equipmentStatus(hs.imei), "HTTP 404", "an IMEI never enrolled is unknown, not allowed");
      for (const hs of handsets) await hs.start(broker.url, v);
      for (const hs of handsets) {
        await waitFor(async () => (await registry.equipmentStatus(hs.imei)) === "WHITELISTED", `${hs.name} enrolled`);
        assert.equal(registry.find((e) => e.event === "device.enrolled" && e.did === hs.did).length, 1);
        const d = await view(hs);
        assert.equal(d.claimed, false);
        assert.equal(d.lockState, 0);
        assert.deepEqual(d.flags, []);
        assert.equal(hs.platform.locked, false);
        assert.equal(hs.connects[0]!.locked, false);
      }
    });

    test("the owner claims a handset with its proof and reports it stolen: it locks showing the message and contact, BLACKLISTED", async (t) => {
      if (!ready(t)) return;
      const hs = h(1);
      // The claim code typed on the handset while its agent runs: the CLI only reads the folder.
      const code = await alice.claimCode(registry, hs);
      assert.ok(code, "a claim code");
      const before = hs.persisted();
      const cli = runCli(["device", "claim-proof", "--dir", hs.dir, "--code", code]);
      assert.equal(cli.status, 0, cli.stderr);
      assert.equal(hs.persisted(), before, "the running agent's folder is untouched");
      const proof = new Uint8Array(Buffer.from(cli.stdout.trim(), "hex"));
      const claim = await alice.send(registry, { type: "claim", imei: hs.imei, key: alice.key.coseKey, code, proof });
      assert.equal(claim.status, 200, JSON.stringify(claim.body));
      assert.equal((await view(hs)).claimed, true);

      aliceReport = buildRequest(alice.key.signer, { type: "report-stolen", imei: hs.imei, message: STOLEN_MESSAGE, contact: CONTACT }, registry.audience);
      const r = await registry.client.send(aliceReport);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.status, "BLACKLISTED");
      assert.deepEqual(r.body.commands, [{ seq: 1, action: "lock" }]);

      await waitFor(() => hs.platform.locked, `${hs.name} locked`);
      assert.equal(hs.platform.screen, lockScreenText(STOLEN_MESSAGE, CONTACT));
      const ta = hs.view();
      assert.equal(ta.lock, 2);
      assert.equal(ta.seq, 1);
      assert.equal(ta.message, STOLEN_MESSAGE);
      assert.equal(ta.contact, CONTACT);
      await settled(hs, 2);
      assert.equal(await registry.equipmentStatus(hs.imei), "BLACKLISTED");
      assert.ok(registry.find((e) => e.event === "command.result" && e.did === hs.did && e.seq === 1 && e.status === "SUCCEEDED").length >= 1);
      // Receipt and result travel separately (§4.5, §4.6).
      assert.ok(observer.on(hs.did, "receipt").length >= 1);
      const results = observer.on(hs.did, "result").map((m) => decodeResult(m.payload));
      assert.ok(results.some((x) => x.seq === 1 && x.status === "SUCCEEDED" && x.code === 2 && x.token !== undefined));
      // The others are untouched.
      for (const other of [h(2), h(3)]) {
        assert.equal(other.platform.locked, false);
        assert.equal(await registry.equipmentStatus(other.imei), "WHITELISTED");
      }
    });

    test("the owner reports it found: it unlocks, WHITELISTED again", async (t) => {
      if (!ready(t)) return;
      const hs = h(1);
      const r = await alice.send(registry, { type: "found", imei: hs.imei });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.commands, [{ seq: 2, action: "unlock" }]);
      await waitFor(() => !hs.platform.locked, `${hs.name} unlocked`);
      assert.equal(hs.view().lock, 0);
      assert.equal(hs.view().seq, 2);
      await settled(hs, 0);
      assert.equal(await registry.equipmentStatus(hs.imei), "WHITELISTED");
    });

    test("a handset offline when flagged locks when it reconnects", async (t) => {
      if (!ready(t)) return;
      const hs = h(2);
      assert.equal((await bob.claim(registry, hs)).status, 200);
      await hs.stop(false); // a power cut: the broker publishes the Last Will
      await waitFor(async () => (await view(hs)).presence?.online === false, `${hs.name} seen offline (Last Will)`);
      const r = await bob.send(registry, { type: "report-stolen", imei: hs.imei, message: STOLEN_MESSAGE, contact: CONTACT });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(await registry.equipmentStatus(hs.imei), "BLACKLISTED");
      await waitFor(async () => (await view(hs)).pendingCommand?.status === "SENT", "the broker holding the lock command");

      await hs.start(broker.url, v);
      assert.equal(hs.connectsThisBoot()[0]!.locked, false, "it booted unlocked: the lock must come over the network");
      await waitFor(() => hs.platform.locked, `${hs.name} locked after reconnecting`);
      assert.equal(hs.platform.screen, lockScreenText(STOLEN_MESSAGE, CONTACT));
      await settled(hs, 2);
    });

    test("an agent restarted while locked is locked before it connects", async (t) => {
      if (!ready(t)) return;
      const hs = h(2);
      await hs.stop(true);
      await hs.start(broker.url, v);
      const first = hs.connectsThisBoot()[0]!;
      assert.equal(first.locked, true, "locked before the first connection attempt");
      assert.equal(first.screen, lockScreenText(STOLEN_MESSAGE, CONTACT));
      assert.equal(hs.platform.history[0]?.action, "lock", "the first thing this boot did to the platform");
      await waitFor(() => hs.agent?.connected, `${hs.name} connected`);
      assert.equal(hs.view().lock, 2);
      assert.equal(await registry.equipmentStatus(hs.imei), "BLACKLISTED");
    });

    test("a factory reset wipes user data and keeps the lock; found still unlocks it", async (t) => {
      if (!ready(t)) return;
      const hs = h(2);
      await hs.stop(true);
      assert.equal((await hs.folder.listUserData()).length, 1);
      const reset = runCli(["device", "factory-reset", "--dir", hs.dir]);
      assert.equal(reset.status, 0, reset.stderr);
      assert.match(reset.stdout, /LOCKED/);
      assert.deepEqual(await hs.folder.listUserData(), []);

      await hs.start(broker.url, v);
      assert.equal(hs.connectsThisBoot()[0]!.locked, true, "locked before connecting, after the reset");
      assert.equal(hs.view().lock, 2);
      await waitFor(() => hs.agent?.connected, `${hs.name} connected`);
      assert.equal(await registry.equipmentStatus(hs.imei), "BLACKLISTED");

      assert.equal((await bob.send(registry, { type: "found", imei: hs.imei })).status, 200);
      await waitFor(() => !hs.platform.locked, `${hs.name} unlocked`);
      await settled(hs, 0);
    });

    test("a registry killed with SIGKILL loses no flag and no pending command", async (t) => {
      if (!ready(t)) return;
      const hs = h(3);
      assert.equal((await carol.claim(registry, hs)).status, 200);
      await hs.stop(false);
      const r = await carol.send(registry, { type: "report-stolen", imei: hs.imei, message: STOLEN_MESSAGE, contact: CONTACT });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      await registry.kill9(); // at once: the answer came after the commit, the publication may not have
      assert.equal(registry.alive, false);
      await registry.restart();
      const d = await view(hs);
      assert.equal((await registry.device(hs.imei)).status, "BLACKLISTED", "the flag survived");
      assert.equal(d.pendingCommand?.action, "lock", "the pending command survived");
      assert.equal(d.pendingCommand?.seq, 1);

      await hs.start(broker.url, v);
      await waitFor(() => hs.platform.locked, `${hs.name} locked`);
      await settled(hs, 2);

      // Killed right after "found" while the handset is online: the unlock still gets through,
      // and a result sent while the registry was down is taken when it comes back.
      assert.equal((await carol.send(registry, { type: "found", imei: hs.imei })).status, 200);
      await registry.kill9();
      await registry.restart();
      await waitFor(() => !hs.platform.locked, `${hs.name} unlocked`);
      await settled(hs, 0);
      assert.equal(await registry.equipmentStatus(hs.imei), "WHITELISTED");
    });

    test("forged, replayed and misdirected commands are refused by the TA, change nothing, and are logged", async (t) => {
      if (!ready(t)) return;
      const hs = h(1); // unlocked, last accepted sequence 2
      const genuine = uniquePayloads(observer.on(hs.did, "command"));
      assert.equal(genuine.length, 2, "the lock (1) and unlock (2) the registry sent");
      const [lock1, unlock2] = genuine as [Uint8Array, Uint8Array];
      const other = uniquePayloads(observer.on(h(2).did, "command"))[0]!;
      const seq = hs.view().seq;
      const target = { ueid: ueidFromImei(hs.imei), deviceKid: fromHex(hs.did) };
      const attacker = signingKey(generateEd25519().privateKey);

      const cases: { what: string; kind: DeviceTopicKind; bytes: Uint8Array; code: number }[] = [
        { what: "a lock signed by another key", kind: "command", bytes: signCommand(attacker, { ...target, seq: seq + 1, action: 1, message: "pay up" }), code: CMD.SIGNATURE },
        { what: "the same on the desired-state topic", kind: "desired", bytes: signCommand(attacker, { ...target, seq: seq + 5, action: 1 }), code: CMD.SIGNATURE },
        { what: "the registry's own, older lock replayed", kind: "command", bytes: lock1, code: CMD.REPLAY },
        { what: "a registry-signed lock for another handset's IMEI", kind: "command", bytes: signCommand(world.registry, { ...target, ueid: ueidFromImei(h(2).imei), seq: seq + 1, action: 1 }), code: CMD.UEID },
        { what: "a registry-signed lock for another handset's key", kind: "command", bytes: signCommand(world.registry, { ...target, deviceKid: fromHex(h(2).did), seq: seq + 1, action: 1 }), code: CMD.DEVICE_KID },
        { what: "another handset's genuine command", kind: "command", bytes: other, code: CMD.UEID },
      ];
      for (const c of cases) {
        const before = await snapshot(hs);
        const rejected = hs.log.named("command.rejected").length;
        const results = observer.on(hs.did, "result").length;
        await observer.publish(deviceTopic(hs.did, c.kind), c.bytes);
        const logged = await waitFor(() => hs.log.named("command.rejected")[rejected], `the refusal of ${c.what} logged`);
        assert.equal(logged.code, c.code, c.what);
        const result = decodeResult((await waitFor(() => observer.on(hs.did, "result")[results], `the REJECTED result of ${c.what}`)).payload);
        assert.equal(result.status, "REJECTED", c.what);
        assert.equal(result.error, c.code, c.what);
        assert.equal(result.code, 6, "LwM2M: full lock failed");
        await registryBarrier(hs);
        assert.deepEqual(await snapshot(hs), before, `${c.what} changed nothing`);
      }
      // The command accepted last, delivered again, is re-reported, not re-applied (§4.6).
      const before = await snapshot(hs);
      const dups = hs.log.named("command.duplicate").length;
      await observer.publish(deviceTopic(hs.did, "command"), unlock2);
      await waitFor(() => hs.log.named("command.duplicate")[dups], "the duplicate recognised");
      await registryBarrier(hs);
      assert.deepEqual(await snapshot(hs), before);
    });

    test("an unsigned owner request, a replayed one and ones signed by a non-owner are refused, change nothing, and are logged", async (t) => {
      if (!ready(t)) return;
      const hs = h(1);
      const signed = buildRequest(alice.key.signer, { type: "report-stolen", imei: hs.imei, message: "unsigned" }, registry.audience);
      const unsigned = new Uint8Array(signed);
      unsigned.fill(0, unsigned.length - 64); // the signature is the last 64 bytes
      const bare = encodeDeterministic(new Map<string, unknown>([["v", 1], ["type", "report-stolen"], ["imei", hs.imei], ["id", new Uint8Array(16)], ["ts", Math.floor(Date.now() / 1000)]]));
      const cases: { what: string; body: Uint8Array; status: number; code: string }[] = [
        { what: "a report whose signature is zeroed", body: unsigned, status: 403, code: "E_BAD_SIGNATURE" },
        { what: "a bare CBOR map, no COSE_Sign1 at all", body: bare, status: 400, code: "E_BAD_REQUEST" },
        { what: "alice's report-stolen replayed", body: aliceReport!, status: 409, code: "E_REPLAY" },
        { what: "a report-stolen signed by a non-owner", body: buildRequest(mallory.key.signer, { type: "report-stolen", imei: hs.imei, message: "mine now" }, registry.audience), status: 403, code: "E_NOT_OWNER" },
        { what: "a transfer signed by a non-owner", body: buildRequest(mallory.key.signer, { type: "transfer", imei: hs.imei, key: mallory.key.coseKey }, registry.audience), status: 403, code: "E_NOT_OWNER" },
        { what: "a claim of an owned handset with a code nobody was issued", body: buildRequest(mallory.key.signer, { type: "claim", imei: hs.imei, key: mallory.key.coseKey, code: "00000-00000", proof: await hs.claimProof("00000-00000") }, registry.audience), status: 403, code: "E_CLAIM_CODE_UNKNOWN" },
        { what: "a flag signed by a non-authority", body: buildRequest(mallory.key.signer, { type: "flag", imei: hs.imei, reason: "trust me" }, registry.audience), status: 403, code: "E_NOT_AUTHORITY" },
      ];
      for (const c of cases) {
        const before = await snapshot(hs);
        const from = registry.events.length;
        const a = await registry.client.send(c.body);
        assert.equal(a.status, c.status, `${c.what}: ${JSON.stringify(a.body)}`);
        assert.equal(a.body.ok, false);
        assert.equal(a.body.code, c.code, c.what);
        const logged = await registry.waitForEvent((e) => e.event === "request.refused", `the refusal of ${c.what} logged`, from);
        assert.equal(logged.code, c.code, c.what);
        assert.deepEqual(await snapshot(hs), before, `${c.what} changed nothing`);
      }
      assert.equal(hs.platform.locked, false);
      assert.equal((await view(hs)).claimed, true);
    });

    test("garbage, truncated and oversized payloads on every topic: no crash, no state change, each logged", async (t) => {
      if (!ready(t)) return;
      const hs = h(1);
      const sample = (kind: DeviceTopicKind): Uint8Array => {
        if (kind === "heartbeat") return encodeHeartbeat({ bootcount: 3, lock: 0, seq: hs.view().seq, tampered: false });
        const seen = observer.on(hs.did, kind).find((m) => m.payload.length > 1);
        assert.ok(seen, `a genuine ${kind} message to truncate`);
        return seen.payload;
      };
      const oversized = encodeDeterministic(new Map<string, unknown>([["v", 1], ["pad", new Uint8Array(MAX_PAYLOAD_BYTES)]]));
      assert.ok(oversized.length > MAX_PAYLOAD_BYTES);
      const deviceSide = new Set<DeviceTopicKind>(["challenge", "command", "desired"]);
      const before = await snapshot(hs);
      const hostile: { topic: string; kind: DeviceTopicKind | "none"; what: string; payload: Uint8Array }[] = [];
      for (const kind of DEVICE_TOPICS) {
        const s = sample(kind);
        hostile.push(
          { topic: deviceTopic(hs.did, kind), kind, what: `garbage on ${kind}`, payload: new Uint8Array(randomBytes(200)) },
          { topic: deviceTopic(hs.did, kind), kind, what: `a truncated ${kind}`, payload: s.subarray(0, Math.max(1, s.length >> 1)) },
          { topic: deviceTopic(hs.did, kind), kind, what: `an oversized ${kind}`, payload: oversized },
        );
      }
      hostile.push(
        { topic: "at/v1/d/not-a-device-id/hello", kind: "none", what: "a hello on a malformed topic", payload: sample("hello") },
        { topic: deviceTopic("0".repeat(32), "attestation"), kind: "none", what: "an attestation from an unknown device", payload: sample("attestation") },
      );
      for (const m of hostile) {
        const onDevice = m.kind !== "none" && deviceSide.has(m.kind);
        const agentEvents = hs.log.events.length;
        const registryEvents = registry.events.length;
        await observer.publish(m.topic, m.payload);
        if (onDevice) {
          const e = await waitFor(() => hs.log.events.slice(agentEvents).find((x) => x.level !== "debug"), `the agent logging ${m.what}`);
          assert.equal(e.level, "warn", `${m.what}: ${e.event} ${JSON.stringify(e.fields)}`);
        } else {
          const about = (e: LogEvent) => e.did === hs.did || e.did === "0".repeat(32) || e.topic === m.topic;
          const e = await registry.waitForEvent((x) => about(x) && (x.level === "warn" || x.level === "error"), `the registry logging ${m.what}`, registryEvents);
          assert.equal(e.level, "warn", `${m.what}: ${JSON.stringify(e)}`);
        }
        assert.ok(registry.alive, `the registry survived ${m.what}`);
      }
      await registryBarrier(hs);
      assert.deepEqual(await snapshot(hs), before, "nothing changed");
      assert.ok(hs.agent?.connected, "the agent is still connected");

      // Both sides still work: a real report locks, found unlocks.
      assert.equal((await alice.send(registry, { type: "report-stolen", imei: hs.imei, message: STOLEN_MESSAGE, contact: CONTACT })).status, 200);
      await waitFor(() => hs.platform.locked, `${hs.name} locked`);
      await settled(hs, 2);
      assert.equal((await alice.send(registry, { type: "found", imei: hs.imei })).status, 200);
      await waitFor(() => !hs.platform.locked, `${hs.name} unlocked`);
      await settled(hs, 0);
    });

    /** Everything that must not change: the TA (view and persisted state), the platform, the registry's database and answers. */
    async function snapshot(hs: Handset) {
      return {
        ta: hs.view(),
        persisted: hs.persisted(),
        platform: { locked: hs.platform.locked, screen: hs.platform.screen, actions: hs.platform.history.length },
        // Presence (last_seen, online) is a hint any genuine message refreshes (§4.4): not compared.
        db: snapshotDb(registry.db, { devices: ["last_seen", "online"] }),
        status: await registry.equipmentStatus(hs.imei),
      };
    }

    /**
     * Waits until the registry has handled everything published before: a malformed receipt sent
     * now reaches it after them (one broker, in order), and it logs the refusal.
     */
    async function registryBarrier(hs: Handset): Promise<void> {
      const from = registry.events.length;
      await observer.publish(deviceTopic(hs.did, "receipt"), new Uint8Array([0xff]));
      await registry.waitForEvent((e) => e.event === "receipt.refused" && e.did === hs.did, "the barrier", from);
    }
  });
}

function uniquePayloads(seen: readonly { payload: Uint8Array }[]): Uint8Array[] {
  const out = new Map<string, Uint8Array>();
  for (const m of seen) out.set(Buffer.from(m.payload).toString("hex"), m.payload);
  return [...out.values()];
}
