// Authenticated transport on the shipped broker configuration (deploy/mosquitto/mosquitto.conf
// and the production acl, templated with paths and the port only; docs/PROTOCOL.md §2.1): a real
// Mosquitto with mutual TLS, the registry (`antitheft registry` as a process) and two handsets
// with their factory-issued certificates. Every refusal is shown with the genuine clients still
// connected and nothing changed in the registry; each attack is one that works on an open broker
// (the takeover is shown working there first: the negative control).
// Waits are conditions with timeouts; nothing here asserts speed.
import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { deviceTopic, type DeviceTopicKind } from "../protocol/messages.js";
import { mqttTransport, type LinkOptions } from "../agent/mqtt-link.js";
import { mqttSecurityOptions, type MqttSecurity } from "../transport/mqtt-options.js";
import { loadClientTls } from "../transport/client-tls.js";
import { TransportError } from "../transport/errors.js";
import { createCa } from "../transport/pki.js";
import { ledgerTopic } from "../registry/ledger/topics.js";
import { startMosquitto, type MosquittoHandle } from "./support/brokers.js";
import { SecureBroker, type Identity } from "./support/secure-broker.js";
import { createWorld, Handset, Owner, RegistryProcess, snapshotDb, testImei, waitFor, type World } from "./support/e2e.js";
import { hasTool, needTool } from "./support/system-tools.js";

const V = 5; // MQTT 5: the broker answers an unauthorised PUBLISH with PUBACK 0x87 (§3.4.2.1)

describe("authenticated transport: the shipped Mosquitto configuration", () => {
  const available = hasTool("mosquitto");
  let world: World;
  let broker: SecureBroker;
  let registry: RegistryProcess;
  const hs: Handset[] = [];
  const owner = new Owner("owner");
  /** A device identity that is no handset of the fleet: its own topics serve as a barrier. */
  let spare: Identity;
  let spareDid: string;
  /** Two more device identities that play impostors (each CN is one client id: they must differ). */
  const impostors: { id: Identity; did: string }[] = [];
  const clients: MqttClient[] = [];

  const ready = (t: TestContext) => needTool(t, "mosquitto");
  const opts = (security: MqttSecurity | undefined, extra: IClientOptions = {}): IClientOptions => ({
    ...mqttSecurityOptions(broker.url, security),
    protocolVersion: V,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...extra,
  });
  const connect = async (security: MqttSecurity | undefined, extra: IClientOptions = {}): Promise<MqttClient> => {
    const c = await mqtt.connectAsync(broker.url, opts(security, extra));
    clients.push(c);
    return c;
  };
  /** Connects through the agent's transport (agent/mqtt-link.ts), whose refusals are TransportErrors. */
  const agentConnect = (extra: IClientOptions): Promise<unknown> => {
    const o: LinkOptions = { clientId: `at-d-${"f".repeat(32)}`, protocolVersion: V, will: { topic: deviceTopic("f".repeat(32), "status"), payload: new Uint8Array([0]), retain: true }, connectTimeoutMs: 5000 };
    return mqttTransport(broker.url, extra)(o, { message() {}, closed() {} }).then((l) => (l as { end(): Promise<void> }).end());
  };
  /** The raw files as TLS options, bypassing the client's own checks (loadClientTls): the broker judges. */
  const raw = (id: Identity): IClientOptions => ({ ca: readFileSync(broker.caFile), cert: readFileSync(id.cert), key: readFileSync(id.key) });
  const fileSecurity = (id: Identity): MqttSecurity => ({ tls: loadClientTls({ ca: broker.caFile, cert: id.cert, key: id.key }) });
  /** Everything that must not change: the registry's database (presence aside) and the handsets' TAs. */
  const snapshot = () => ({
    db: snapshotDb(registry.db, { devices: ["last_seen", "online"] }),
    tas: hs.map((h) => [h.view(), h.persisted()]),
  });
  /** The registry has handled everything published before: the spare device's malformed hello is refused after it. */
  const barrier = async () => {
    const from = registry.events.length;
    const c = await connect(fileSecurity(spare));
    await c.publishAsync(deviceTopic(spareDid, "hello"), Buffer.from([0xff]), { qos: 1 });
    await registry.waitForEvent((e) => e.event === "hello.refused" && e.did === spareDid, "the barrier", from);
    await c.endAsync();
  };
  const registryStayedConnected = () => {
    assert.equal(registry.find((e) => e.event === "mqtt.offline").length, 0, "the registry was never disconnected");
    assert.equal(registry.find((e) => e.event === "mqtt.connected").length, 1, "the registry connected once");
  };
  const drops = () => hs.map((h) => h.log.named("agent.disconnected").length + h.log.named("agent.connect_failed").length);
  /** Every handset is connected and lost no connection since `mark` (drops() at the test's start). */
  const handsetsStayedConnected = (mark: number[]) => {
    hs.forEach((h) => assert.ok(h.agent?.connected, `${h.name} is connected`));
    assert.deepEqual(drops(), mark, "no handset lost its connection");
  };

  before(async () => {
    if (!available) return;
    world = createWorld("at-tls-");
    broker = await SecureBroker.start({ acl: "acl" });
    const reg = await broker.issue("registry", { cn: "at-r-registry" });
    registry = await RegistryProcess.start({ world, broker: broker.url, protocolVersion: V, name: "registry", args: ["--ca", broker.caFile, "--cert", reg.cert, "--cert-key", reg.key] });
    for (let i = 1; i <= 2; i++) hs.push(await Handset.provision(world, `handset-${i}`, testImei(610 + i), undefined, broker.ca));
    spareDid = randomBytes(16).toString("hex");
    spare = await broker.issue("spare", { cn: spareDid });
    for (const name of ["impostor-1", "impostor-2"]) {
      const did = randomBytes(16).toString("hex");
      impostors.push({ id: await broker.issue(name, { cn: did }), did });
    }
  });

  after(async () => {
    for (const c of clients) await c.endAsync(true).catch(() => undefined);
    for (const h of hs) await h.stop(true).catch(() => undefined);
    await registry?.stop();
    await broker?.stop();
    world?.cleanup();
  });

  test("genuine parties: handsets enrol over mutual TLS with their factory-issued certificates, an owner's report locks", async (t) => {
    if (!ready(t)) return;
    for (const h of hs) await h.start(broker.url, V);
    for (const h of hs) await waitFor(async () => (await registry.equipmentStatus(h.imei)) === "WHITELISTED", `${h.name} enrolled`);
    assert.equal(registry.find((e) => e.event === "registry.started")[0]?.certificate, "at-r-registry", "the registry connects as its certificate's CN");
    assert.equal((await owner.claim(registry, hs[0]!)).status, 200);
    assert.equal((await owner.send(registry, { type: "report-stolen", imei: hs[0]!.imei, message: "stolen" })).status, 200);
    await waitFor(() => hs[0]!.platform.locked, "handset-1 locked");
    await waitFor(async () => (await registry.device(hs[0]!.imei)).devices[0]!.pendingCommand === null, "the result at the registry");
    assert.match(await broker.log(), new RegExp(`as ${hs[0]!.did} .*u'${hs[0]!.did}'`), "the broker knows the handset by its certificate's CN");
  });

  test("refused at the TLS handshake: no client certificate, an unknown CA, an expired and a revoked certificate - each with its own error", async (t) => {
    if (!ready(t)) return;
    const mark = drops();
    const before = snapshot();
    const cases: { what: string; extra: () => Promise<IClientOptions>; code: string }[] = [
      { what: "no client certificate", extra: async () => ({ ca: readFileSync(broker.caFile) }), code: "E_TLS_NO_CLIENT_CERT" },
      {
        what: "a device certificate from an unknown CA",
        extra: async () => {
          const id = await broker.issueUnderUnknownCa("unknown-ca", hs[1]!.did);
          return raw(id);
        },
        code: "E_TLS_UNKNOWN_CA",
      },
      {
        what: "an expired device certificate",
        extra: async () => raw(await broker.issue("expired", { cn: hs[1]!.did, notBefore: new Date(Date.now() - 3 * 86_400_000), days: 1 })),
        code: "E_TLS_CERT_EXPIRED",
      },
      {
        what: "a revoked device certificate",
        extra: async () => {
          const id = await broker.issue("revoked", { cn: hs[1]!.did });
          await broker.revoke(id);
          return raw(id);
        },
        code: "E_TLS_CERT_REVOKED",
      },
    ];
    for (const c of cases) {
      const err = await agentConnect(await c.extra()).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof TransportError, `${c.what}: refused with a TransportError, got ${String(err)}`);
      assert.equal(err.code, c.code, `${c.what}: ${err.message}`);
    }
    // The client side checks its own files first: an expired certificate never leaves the host.
    const expired = await broker.issue("expired2", { cn: spareDid, notBefore: new Date(Date.now() - 3 * 86_400_000), days: 1 });
    assert.throws(() => loadClientTls({ ca: broker.caFile, ...expired }), (e: unknown) => e instanceof TransportError && e.code === "E_TLS_CERT_EXPIRED");
    await barrier();
    assert.deepEqual(snapshot(), before, "nothing changed");
    registryStayedConnected();
    handsetsStayedConnected(mark);
  });

  test("the client refuses a broker whose certificate another CA issued, or that names another host", async (t) => {
    if (!ready(t)) return;
    const other = await createCa("not the deployment's CA");
    const id = spare;
    const wrongCa = await agentConnect({ ...raw(id), ca: Buffer.from(other.certPem) }).catch((e: unknown) => e);
    assert.ok(wrongCa instanceof TransportError && wrongCa.code === "E_TLS_UNKNOWN_CA", String(wrongCa));
    const wrongName = await agentConnect({ ...raw(id), servername: "registry.example" }).catch((e: unknown) => e);
    assert.ok(wrongName instanceof TransportError && wrongName.code === "E_TLS_NAME_MISMATCH", String(wrongName));
  });

  test("a device certificate cannot act as the registry or as another handset: its client id is its CN, its reads are its own", async (t) => {
    if (!ready(t)) return;
    const before = snapshot();
    // As the registry: a persistent session under the registry's client id, no subscription of its own.
    const asRegistry = await connect(fileSecurity(impostors[0]!.id), { clientId: "at-r-registry", clean: false, properties: { sessionExpiryInterval: 3600 } });
    const gotAsRegistry: string[] = [];
    asRegistry.on("message", (topic) => gotAsRegistry.push(topic));
    // As handset 2, and subscribing to everybody's topics.
    const asDevice = await connect(fileSecurity(impostors[1]!.id), { clientId: `at-d-${hs[1]!.did}`, clean: false, properties: { sessionExpiryInterval: 3600 } });
    const gotAsDevice: string[] = [];
    asDevice.on("message", (topic) => gotAsDevice.push(topic));
    await asDevice.subscribeAsync(["at/v1/d/+/hello", "at/v1/d/+/result", `at/v1/d/${hs[1]!.did}/command`, `at/v1/d/${hs[1]!.did}/desired`, "at/v1/ledger/#"], { qos: 1 });
    // Traffic the registry and handset 2 must receive: handset 2 reboots (hello, challenge,
    // attestation) and is locked (command, result).
    await hs[1]!.stop(true);
    await hs[1]!.start(broker.url, V);
    await waitFor(() => hs[1]!.agent?.connected, "handset-2 back");
    assert.equal((await owner.claim(registry, hs[1]!)).status, 200);
    assert.equal((await owner.send(registry, { type: "report-stolen", imei: hs[1]!.imei, message: "stolen" })).status, 200);
    await waitFor(() => hs[1]!.platform.locked, "handset-2 locked");
    await waitFor(async () => (await registry.device(hs[1]!.imei)).devices[0]!.pendingCommand === null, "handset-2's result at the registry");
    await barrier();
    assert.ok(asRegistry.connected && asDevice.connected, "the impostors stayed connected all along: they could have received anything the broker gave them");
    assert.deepEqual(gotAsRegistry, [], "nothing of the registry's session reached the impostor");
    assert.deepEqual(gotAsDevice, [], "nothing of handset 2's or anyone's traffic reached the impostor");
    const log = await broker.log();
    for (const x of impostors) assert.match(log, new RegExp(`as ${x.did} .*u'${x.did}'`), "the broker named each impostor by its certificate");
    assert.doesNotMatch(log, /as at-r-registry .*u'[0-9a-f]{32}'/, "no device certificate ever held the registry's client id");
    registryStayedConnected();
    assert.equal(hs[0]!.log.named("agent.disconnected").length, 0, "handset 1 kept its connection");
    const after = snapshot();
    assert.notDeepEqual(after, before, "the genuine lock went through");
  });

  test("a device publishing on another handset's topics, or on challenge, command, desired or ledger topics: refused (PUBACK 0x87), nothing changes", async (t) => {
    if (!ready(t)) return;
    const mark = drops();
    const before = snapshot();
    const from = registry.events.length;
    const victim = hs[0]!.did;
    const targets: { what: string; topic: string }[] = [
      ...(["hello", "attestation", "heartbeat", "receipt", "result", "status"] as DeviceTopicKind[]).map((k) => ({ what: `handset 1's ${k}`, topic: deviceTopic(victim, k) })),
      ...(["challenge", "command", "desired"] as DeviceTopicKind[]).map((k) => ({ what: `handset 1's ${k}`, topic: deviceTopic(victim, k) })),
      ...(["challenge", "command", "desired"] as DeviceTopicKind[]).map((k) => ({ what: `its own ${k} (registry-only)`, topic: deviceTopic(spareDid, k) })),
      { what: "a ledger entry", topic: ledgerTopic("a".repeat(32), "entry") },
      { what: "a ledger alarm", topic: ledgerTopic("a".repeat(32), "alarm") },
    ];
    // Control: the same identity publishing on its own report topic is accepted (so 0x87 below is the ACL's verdict).
    const own = await connect(fileSecurity(spare));
    await own.publishAsync(deviceTopic(spareDid, "heartbeat"), Buffer.from([0xff]), { qos: 1 });
    await own.endAsync(true);
    // One connection per attempt: Mosquitto 2.0.11 answers an unauthorised QoS 1 PUBLISH with
    // PUBACK 0x87 and drops the connection at the client's next packet.
    for (const x of targets) {
      const c = await connect(fileSecurity(spare));
      const err = await c.publishAsync(x.topic, Buffer.from(randomBytes(64)), { qos: 1 }).then(
        () => undefined,
        (e: { code?: number }) => e,
      );
      assert.equal(err?.code, 0x87, `${x.what}: refused as not authorised`);
      await c.endAsync(true);
    }
    await barrier();
    const seen = registry.events.slice(from).filter((e) => e.did === victim || (typeof e.topic === "string" && targets.some((x) => x.topic === e.topic)));
    assert.deepEqual(seen, [], "the registry received none of it");
    assert.deepEqual(snapshot(), before, "nothing changed");
    registryStayedConnected();
    handsetsStayedConnected(mark);
  });
});

describe("negative control: the registry-session takeover on an open broker", () => {
  let open: MosquittoHandle | undefined;
  after(async () => void (await open?.stop()));

  test("on Mosquitto without the shipped configuration, any client takes the registry's client id and receives its traffic", async (t) => {
    if (!needTool(t, "mosquitto")) return;
    open = await startMosquitto();
    const url = open.url;
    const genuine = await mqtt.connectAsync(url, { clientId: "at-r-registry", clean: false, protocolVersion: V, reconnectPeriod: 0, properties: { sessionExpiryInterval: 3600 } });
    await genuine.subscribeAsync("at/v1/d/+/hello", { qos: 1 });
    const kicked = new Promise<void>((r) => genuine.once("close", () => r()));
    // The attacker: no credentials, the registry's client id, a persistent session.
    const attacker = await mqtt.connectAsync(url, { clientId: "at-r-registry", clean: false, protocolVersion: V, reconnectPeriod: 0, properties: { sessionExpiryInterval: 3600 } });
    await kicked;
    const got: string[] = [];
    attacker.on("message", (topic) => got.push(topic));
    const device = await mqtt.connectAsync(url, { protocolVersion: V, reconnectPeriod: 0 });
    const did = randomBytes(16).toString("hex");
    await device.publishAsync(deviceTopic(did, "hello"), Buffer.from([1]), { qos: 1 });
    await waitFor(() => got.length > 0, "the attacker receiving a hello meant for the registry");
    assert.deepEqual(got, [deviceTopic(did, "hello")], "the attacker inherited the registry's subscriptions");
    await device.endAsync();
    await attacker.endAsync(true);
    await genuine.endAsync(true);
  });
});

describe("the username/password variant for managed brokers (deploy/mosquitto/mosquitto-password.conf)", () => {
  let broker: SecureBroker | undefined;
  const did = "0123456789abcdef0123456789abcdef";
  const other = "fedcba9876543210fedcba9876543210";
  after(async () => void (await broker?.stop()));

  test("the same ACL by username: the right password connects under its own client id; a wrong one is refused (E_MQTT_NOT_AUTHORIZED); other handsets' topics are refused", async (t) => {
    if (!needTool(t, "mosquitto", "mosquitto_passwd")) return;
    broker = await SecureBroker.start({ mode: "password", passwords: { [did]: "device-secret", [other]: "other-secret" } });
    const b = broker;
    const ca = readFileSync(b.caFile);
    const link = (username: string, password: string) => {
      const o: LinkOptions = { clientId: "at-r-registry", protocolVersion: V, will: { topic: deviceTopic(did, "status"), payload: new Uint8Array([0]), retain: true }, connectTimeoutMs: 5000 };
      return mqttTransport(b.url, mqttSecurityOptions(b.url, { tls: { ca }, credentials: { username, password } }))(o, { message() {}, closed() {} });
    };
    const wrong = await link(did, "guess").then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(wrong instanceof TransportError && wrong.code === "E_MQTT_NOT_AUTHORIZED", String(wrong));
    const ok = await link(did, "device-secret");
    await ok.publish(deviceTopic(did, "hello"), new Uint8Array([1]));
    assert.match(await b.log(), new RegExp(`as ${did} .*u'${did}'`), "asked for at-r-registry, connected as its username");
    assert.doesNotMatch(await b.log(), /as at-r-registry/);
    await assert.rejects(ok.publish(deviceTopic(other, "hello"), new Uint8Array([1])), "another handset's topic is refused");
    await ok.end(false);
  });
});

describe("the registry names a refused connection", () => {
  let broker: SecureBroker | undefined;
  let world: World | undefined;
  after(async () => {
    await broker?.stop();
    world?.cleanup();
  });

  test("a registry whose certificate is revoked keeps trying and logs E_TLS_CERT_REVOKED", async (t) => {
    if (!needTool(t, "mosquitto")) return;
    broker = await SecureBroker.start({ acl: "acl" });
    world = createWorld("at-tls-revoked-");
    const reg = await broker.issue("registry", { cn: "at-r-registry" });
    await broker.revoke(reg);
    const { spawn } = await import("node:child_process");
    const { CLI } = await import("./support/e2e.js");
    const f = world.files;
    const p = spawn(process.execPath, [CLI, "registry", "--broker", broker.url, "--db", `${world.dir}/r.sqlite`, "--key", f.registry.key, "--oem-pub", f.oem.pub, "--http", "127.0.0.1:0", "--mqtt-version", "5", "--log", "json", "--ca", broker.caFile, "--cert", reg.cert, "--cert-key", reg.key], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout!.on("data", (d: Buffer) => void (out += d.toString()));
    try {
      await waitFor(() => /"event":"mqtt.error".*"code":"E_TLS_CERT_REVOKED"/.test(out), "the registry logging the revoked certificate", 15_000);
    } finally {
      p.kill("SIGKILL");
    }
    assert.match(out, /refused our client certificate: it is revoked/);
  });
});
