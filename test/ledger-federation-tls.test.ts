// The ledger link over mutual TLS (docs/PROTOCOL.md §2.1 and §7, docs/LEDGER.md §6): two
// `antitheft registry` processes on a real Mosquitto with the shipped mosquitto.conf and the
// production acl (no lab identity), each with its two identities - A `at-r-registry` and
// `at-l-registry` (the shipped blocks), B `at-r-peer` and `at-l-peer` - federated with a shared
// federation key and each other's pinned key. The operator adds one ACL block per pinned
// registry's ledger link (deploy/mosquitto/acl: "one block each"); B's handsets live on another
// broker, so on this one only its ledger link has rights.
// A handset enrolled at A over its factory certificate is reported stolen at A: B answers
// BLACKLISTED through the ledger alone, and clears it when A's owner reports it found.
// The refusal: a device certificate publishing on the ledger topics gets PUBACK 0x87 (MQTT 5,
// Not authorized) and nothing reaches B (no ledger event of any kind at B, its mirror of A's log
// unchanged). On an open broker the same publishes are delivered to B, which has to refuse them
// itself (LEDGER.md §6: `ledger.refused`/`ledger.dropped`); here the broker stops them first.
// Controls: the same device identity publishing on its own status topic is accepted; granted the
// ledger topics (the ACL line added at the end), its forged entry does reach B, which refuses it.
// Waits are conditions with deadlines; nothing asserts speed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { appendFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import mqtt from "mqtt";
import { toHex } from "../attestation/index.js";
import { deviceTopic } from "../protocol/messages.js";
import { ledgerTopic } from "../registry/ledger/topics.js";
import { loadClientTls } from "../transport/client-tls.js";
import { mqttSecurityOptions } from "../transport/mqtt-options.js";
import { SecureBroker } from "./support/secure-broker.js";
import { createWorld, Handset, Owner, RegistryProcess, testImei, waitFor } from "./support/e2e.js";
import { needTool } from "./support/system-tools.js";

const V = 5;

test("ledger link over mutual TLS: two registries on the shipped Mosquitto config exchange a flag; a device certificate's ledger publish is refused and changes nothing", async (t) => {
  if (!needTool(t, "mosquitto")) return;
  const b = await SecureBroker.start({ acl: "acl" });
  const worldA = createWorld("at-ledger-tls-a-");
  const worldB = createWorld("at-ledger-tls-b-");
  const registries: RegistryProcess[] = [];
  const handsets: Handset[] = [];
  t.after(async () => {
    for (const h of handsets) await h.stop(true).catch(() => undefined);
    for (const r of registries) await r.stop().catch(() => undefined);
    await b.stop();
    worldA.cleanup();
    worldB.cleanup();
  });
  // One ACL block for B's ledger link, as deploy/mosquitto/acl says for every pinned registry.
  appendFileSync(join(b.dir, "acl"), "\nuser at-l-peer\ntopic readwrite at/v1/ledger/#\n");
  await b.reload();

  const federationKey = join(worldA.dir, "federation.key");
  writeFileSync(federationKey, randomBytes(32).toString("hex") + "\n");
  const start = async (world: typeof worldA, name: string, peerName: string, peerPub: string) => {
    const mqttId = await b.issue(`${name}-mqtt`, { cn: `at-r-${name}` });
    const ledgerId = await b.issue(`${name}-ledger`, { cn: `at-l-${name}` });
    const r = await RegistryProcess.start({
      world, broker: b.url, protocolVersion: V, name,
      args: [
        "--ca", b.caFile, "--cert", mqttId.cert, "--cert-key", mqttId.key, "--ledger-cert", ledgerId.cert, "--ledger-key", ledgerId.key,
        "--federation-key", federationKey, "--peer-pub", `${peerName}=${peerPub}`,
      ],
    });
    registries.push(r);
    await r.waitForEvent((e) => e.event === "ledger.connected" && e.clientId === `at-l-${name}`, `${name}'s ledger link connected`);
    return r;
  };
  const A = await start(worldA, "registry", "peer", worldB.files.registry.pub);
  const B = await start(worldB, "peer", "registry", worldA.files.registry.pub);
  const logA = toHex(worldA.registry.kid);

  // A handset of A's, enrolled over its factory-issued certificate, claimed and reported stolen.
  const h = await Handset.provision(worldA, "handset", testImei(710), undefined, b.ca);
  handsets.push(h);
  await h.start(b.url, V);
  await waitFor(async () => (await A.equipmentStatus(h.imei)) === "WHITELISTED", "enrolled at A");
  assert.equal(await B.equipmentStatus(h.imei), "HTTP 404", "unknown at B before the report");
  const owner = new Owner("owner");
  assert.equal((await owner.claim(A, h)).status, 200);
  assert.equal((await owner.send(A, { type: "report-stolen", imei: h.imei, message: "stolen" })).status, 200);
  await waitFor(async () => (await B.equipmentStatus(h.imei)) === "BLACKLISTED", "BLACKLISTED at B through the ledger");
  await waitFor(() => h.platform.locked, "the handset locked");
  const mirrored = async () => (await fetch(`${B.url}/antitheft/v1/ledger/sth?log=${logA}`).then((r) => r.json())) as { size: number; root: string };
  await waitFor(async () => (await mirrored()).size === 1, "B mirrors A's stolen entry");
  const before = await mirrored();

  // The refusal: a device certificate (CN = a device id, as the factory issues them; not the
  // handset's own, whose client id would take over the running handset's session).
  const did = randomBytes(16).toString("hex");
  const device = await b.issue("device", { cn: did });
  const tls = loadClientTls({ ca: b.caFile, cert: device.cert, key: device.key });
  const eventsAtB = B.events.length;
  const connectAsDevice = () => mqtt.connectAsync(b.url, { ...mqttSecurityOptions(b.url, { tls }), protocolVersion: V, reconnectPeriod: 0, connectTimeout: 5000, clientId: did });
  // Control: its own report topic is open to it (so 0x87 below is the ACL's verdict on the topic).
  const own = await connectAsDevice();
  await own.publishAsync(deviceTopic(did, "status"), "online", { qos: 1, retain: true });
  await own.endAsync(true);
  // One connection per attempt: Mosquitto answers an unauthorised QoS 1 PUBLISH with PUBACK 0x87
  // and drops the connection at the client's next packet.
  for (const kind of ["entry", "sth", "gossip", "alarm", "checkpoint", "get"] as const) {
    const c = await connectAsDevice();
    const err = await c.publishAsync(ledgerTopic(logA, kind), Buffer.from(randomBytes(64)), { qos: 1 }).then(
      () => undefined,
      (e: { code?: number }) => e,
    );
    assert.equal(err?.code, 0x87, `${kind}: refused as not authorised`);
    await c.endAsync(true);
  }
  // A barrier: A's next entry (found) reaches B after anything the device sent before it.
  assert.equal((await owner.send(A, { type: "found", imei: h.imei })).status, 200);
  await waitFor(async () => (await B.equipmentStatus(h.imei)) === "HTTP 404", "cleared at B through the ledger");
  const after = await mirrored();
  assert.equal(after.size, before.size + 1, "B's mirror of A's log grew by A's found entry only");
  const atB = B.events.slice(eventsAtB).filter((e) => /^ledger\.(refused|dropped|unknown-log|alarm|handler-threw)$/.test(e.event));
  assert.deepEqual(atB, [], "nothing the device published reached B");
  assert.equal(A.find((e) => e.event === "mqtt.offline" || e.event === "ledger.mqtt-error").length, 0, "A's links stayed up");

  // Negative control: the ACL granting this device identity the ledger topics (as an open broker
  // would): the same kind of publish is accepted and reaches B, which has to refuse it itself -
  // so the empty list above is the broker's doing, not a check that cannot fail.
  appendFileSync(join(b.dir, "acl"), `\nuser ${did}\ntopic write at/v1/ledger/#\n`);
  await b.reload();
  const granted = await connectAsDevice();
  const fromNow = B.events.length;
  await granted.publishAsync(ledgerTopic(logA, "entry"), Buffer.from(randomBytes(64)), { qos: 1 });
  await granted.endAsync(true);
  await B.waitForEvent((e) => e.event === "ledger.refused" && e.log === logA, "B refusing the forged entry itself", fromNow);
});
