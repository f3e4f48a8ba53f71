// The registry as an operator runs it (the real CLI as a child process, aedes in this process):
// GET /healthz (liveness + readiness of the database and the broker), GET /metrics (Prometheus
// text), the alert for a handset that refuses the registry's signature (provisioned with another
// registry key) as the owner sees it in `owner status`, JSON logs without a text banner, the
// configuration file with command-line overrides, and configuration mistakes reported as such.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { generateEd25519, privateKeyToPem } from "../attestation/index.js";
import { signingKey } from "../registry/keys.js";
import { startAedes, type AedesHandle } from "./support/brokers.js";
import { createWorld, Handset, Owner, RegistryProcess, runCli, testImei, twice, waitFor, type World } from "./support/e2e.js";


async function get(url: string): Promise<{ status: number; type: string; text: string }> {
  const r = await fetch(url);
  return { status: r.status, type: r.headers.get("content-type") ?? "", text: await r.text() };
}

/** A TCP relay to the broker that can be cut and restored: the broker "goes away" for the registry only. */
async function relay(port: number): Promise<{ url: string; down(): Promise<void>; up(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let listenPort = 0;
  const listen = async () => {
    const s = createServer((c) => {
      const u = createConnection(port, "127.0.0.1");
      for (const x of [c, u]) {
        sockets.add(x);
        x.on("close", () => sockets.delete(x));
        x.on("error", () => { c.destroy(); u.destroy(); });
      }
      c.pipe(u);
      u.pipe(c);
    });
    await new Promise<void>((r) => s.listen(listenPort, "127.0.0.1", () => r()));
    listenPort = (s.address() as { port: number }).port;
    server = s;
  };
  const down = async () => {
    const s = server;
    server = undefined;
    for (const x of sockets) x.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  await listen();
  return { url: `mqtt://127.0.0.1:${listenPort}`, down, up: listen, close: down };
}

/** The value of one sample in Prometheus text, e.g. sample(text, 'antitheft_flags_active{kind="stolen"}'). */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("registry operations", () => {
  let world: World;
  let broker: AedesHandle;
  let link: Awaited<ReturnType<typeof relay>>;
  let registry: RegistryProcess;
  const alice = new Owner("alice");
  const bobPrivate = generateEd25519().privateKey;
  const bob = new Owner("bob", signingKey(bobPrivate));
  let good: Handset;
  let wrong: Handset;

  before(async () => {
    world = createWorld("at-ops-");
    broker = await startAedes();
    link = await relay(broker.port);
    registry = await RegistryProcess.start({ world, broker: link.url, protocolVersion: 4, name: "ops" });
    good = await Handset.provision(world, "good", testImei(1, "35693804"));
    // Provisioned with another registry's key: the factory made a mistake.
    const otherRegistry = signingKey(generateEd25519().privateKey);
    wrong = await Handset.provision({ ...world, registry: otherRegistry }, "wrong", testImei(2, "35693804"));
    for (const h of [good, wrong]) await h.start(broker.url, 4);
    for (const h of [good, wrong]) await waitFor(async () => (await registry.equipmentStatus(h.imei)) === "WHITELISTED", `${h.name} enrolled`);
    assert.equal((await alice.claim(registry, good)).status, 200);
    assert.equal((await bob.claim(registry, wrong)).status, 200);
  });

  after(async () => {
    await good?.stop();
    await wrong?.stop();
    await registry?.stop();
    await link?.close();
    await broker?.stop();
    world?.cleanup();
  });

  test("JSON logs: every stdout line is a JSON event; start-up is the registry.started event (no text banner)", () => {
    assert.deepEqual(registry.text, [], "no non-JSON line on stdout");
    const started = registry.find((e) => e.event === "registry.started");
    assert.equal(started.length, 1);
    assert.equal(started[0]!.http, registry.url);
    assert.equal(started[0]!.clientId, "at-r-ops");
  });

  test("/healthz: live and ready (database, broker) -> 200; broker down -> 503 naming the broker; back -> 200", async () => {
    const ok = await get(`${registry.url}/healthz`);
    assert.equal(ok.status, 200, ok.text);
    const body = JSON.parse(ok.text) as { live: boolean; ready: boolean; checks: Record<string, { ok: boolean; detail: string }> };
    assert.equal(body.live, true);
    assert.equal(body.ready, true);
    assert.equal(body.checks.database!.ok, true);
    assert.equal(body.checks.broker!.ok, true);

    await link.down(); // the registry loses its broker (the handsets keep theirs)
    const down = await waitFor(async () => { const r = await get(`${registry.url}/healthz`); return r.status === 503 ? r : undefined; }, "healthz 503 with the broker down");
    const d = JSON.parse(down.text) as { live: boolean; ready: boolean; checks: Record<string, { ok: boolean; detail: string }> };
    assert.equal(d.live, true, "still live: the process answers");
    assert.equal(d.ready, false);
    assert.equal(d.checks.database!.ok, true);
    assert.equal(d.checks.broker!.ok, false);
    const m = await get(`${registry.url}/metrics`);
    assert.equal(sample(m.text, 'antitheft_up{check="broker"}'), 0);

    await link.up();
    await waitFor(async () => (await get(`${registry.url}/healthz`)).status === 200, "healthz 200 once the broker is back", 20_000, 50);
  });

  test("a handset provisioned with another registry key: REJECTED with the TA's reason, an alert in the log, the view, the metrics and owner status", async () => {
    const from = registry.events.length;
    assert.equal((await twice(() => alice.send(registry, { type: "report-stolen", imei: good.imei }))).status, 200);
    assert.equal((await twice(() => bob.send(registry, { type: "report-stolen", imei: wrong.imei }))).status, 200);
    const alert = await registry.waitForEvent((e) => e.event === "alert.registry-key-rejected", "the alert", from, 20_000);
    assert.equal(alert.level, "error");
    assert.equal(alert.imei, wrong.imei);
    assert.equal(alert.error, "ERR_CMD_SIGNATURE");
    // Negative control: the correctly provisioned handset locks, and raises no alert.
    await waitFor(async () => (await registry.device(good.imei)).devices[0]!.lockState === 2, "the good handset locked", 20_000);
    assert.equal(registry.find((e) => e.event === "alert.registry-key-rejected" && e.imei === good.imei).length, 0);

    // The whole view, as an authority reads it (PROTOCOL.md §6.2 "Device views").
    const view = (await registry.device(wrong.imei)) as unknown as { devices: { lastResult: { status: string; error: { code: number; name: string; text: string } }; alerts: { kind: string }[] }[] };
    assert.equal(view.devices[0]!.lastResult.status, "REJECTED");
    assert.deepEqual(view.devices[0]!.lastResult.error.name, "ERR_CMD_SIGNATURE");
    assert.equal(view.devices[0]!.lastResult.error.code, -35);
    assert.deepEqual(view.devices[0]!.alerts.map((a) => a.kind), ["registry-key-rejected"]);
    const goodView = (await registry.device(good.imei)) as unknown as { devices: { lastResult: { status: string }; alerts: unknown[] }[] };
    assert.equal(goodView.devices[0]!.lastResult.status, "SUCCEEDED");
    assert.deepEqual(goodView.devices[0]!.alerts, []);

    // The owner reads the whole view with the key that owns the phone.
    const bobKey = join(world.dir, "bob.key");
    writeFileSync(bobKey, privateKeyToPem(bobPrivate), { mode: 0o600 });
    const status = runCli(["owner", "status", "--registry", registry.url, "--imei", wrong.imei, "--key", bobKey]);
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /last result: +lock \(sequence \d+\) REJECTED at .*: ERR_CMD_SIGNATURE \(-35\): the command is not signed by a provisioned registry key/);
    assert.match(status.stdout, /ALERT: +registry-key-rejected: .*provisioned with another registry key/);

    const m = await get(`${registry.url}/metrics`);
    assert.equal(m.status, 200);
    assert.match(m.type, /^text\/plain; version=0\.0\.4/);
    assert.equal(sample(m.text, 'antitheft_alerts_total{kind="registry-key-rejected"}'), 1);
    assert.equal(sample(m.text, 'antitheft_flags_active{kind="stolen"}'), 2);
    assert.equal(sample(m.text, 'antitheft_commands{state="REJECTED"}'), 1);
    assert.equal(sample(m.text, 'antitheft_commands{state="SUCCEEDED"}'), 1);
    assert.equal(sample(m.text, "antitheft_devices"), 2);
    assert.equal(sample(m.text, "antitheft_status_memory_ready"), 1, "the SQLite status snapshot is built");
    assert.ok((sample(m.text, "antitheft_status_memory_imeis") ?? 0) >= 2, "both handsets' IMEIs are in memory");
    // One lock verified: one observation, counted in the +Inf bucket and in _count.
    assert.equal(sample(m.text, "antitheft_lock_latency_seconds_count"), 1);
    assert.equal(sample(m.text, 'antitheft_lock_latency_seconds_bucket{le="+Inf"}'), 1);
    assert.ok((sample(m.text, 'antitheft_http_requests_total{route="requests",method="POST",status="200"}') ?? 0) >= 6, "claim-codes, claims and reports counted");
    assert.ok((sample(m.text, 'antitheft_http_requests_total{route="healthz",method="GET",status="503"}') ?? 0) >= 1);
    // Every non-comment line is a sample: name{labels} value.
    for (const l of m.text.trim().split("\n")) if (!l.startsWith("#")) assert.match(l, /^[a-z_]+(\{[^}]*\})? -?[0-9.e+]+$/, l);
  });
});

describe("registry configuration", () => {
  let world: World;
  let broker: AedesHandle;
  before(async () => {
    world = createWorld("at-ops-config-");
    broker = await startAedes();
  });
  after(async () => {
    await broker?.stop();
    world?.cleanup();
  });

  test("--config FILE holds the flags; a flag on the command line overrides the file's", async () => {
    const f = world.files;
    const config = join(world.dir, "registry.json");
    writeFileSync(config, JSON.stringify({ broker: broker.url, db: join(world.dir, "cfg.sqlite"), key: f.registry.key, "oem-pub": [f.oem.pub], "authority-pub": f.authority.pub, http: "127.0.0.1:0", "mqtt-version": 4, name: "from-file", log: "json" }));
    // RegistryProcess passes --broker, --db, ... too: give it the same values, and only --config, --name override.
    const r = await RegistryProcess.start({ world, broker: broker.url, protocolVersion: 4, db: join(world.dir, "cfg.sqlite"), name: "from-cli", args: ["--config", config] });
    try {
      const started = r.find((e) => e.event === "registry.started")[0]!;
      assert.equal(started.clientId, "at-r-from-cli", "the command line wins");
      assert.equal(started.authorities, 1);
    } finally {
      await r.stop();
    }
    // The file alone (plus nothing on the command line) is enough to start it.
    // (--insecure-http: plain HTTP off loopback is refused before listening otherwise, PROTOCOL.md §2.1.)
    const alone = runCli(["registry", "--config", config, "--http", "256.0.0.1:1", "--insecure-http"]);
    assert.equal(alone.status, 1, "got past the flags: the bad --http address (from the command line) fails at listen");
    assert.match(alone.stderr, /E_START/);
  });

  test("configuration mistakes: exit 2 with a message naming the option", () => {
    const f = world.files;
    const base = ["--broker", broker.url, "--db", join(world.dir, "x.sqlite"), "--key", f.registry.key, "--oem-pub", f.oem.pub, "--http", "127.0.0.1:0"];
    const bad = join(world.dir, "bad.json");
    const cases: [string[], RegExp][] = [
      [["--share-group", "g"], /--share-group needs --mqtt-version 5/],
      [["--log", "xml"], /--log must be text or json/],
      [["--log-level", "loud"], /--log-level must be debug, info, warn or error/],
      [["--config", join(world.dir, "missing.json")], /--config .*missing\.json: cannot read it/],
      [["--config", bad], /--config .*bad\.json: unknown option "brokers"/],
    ];
    writeFileSync(bad, JSON.stringify({ brokers: "mqtt://x" }));
    for (const [extra, message] of cases) {
      const r = runCli(["registry", ...base, ...extra]);
      assert.equal(r.status, 2, `${extra.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, /^error E_USAGE: /);
      assert.match(r.stderr, message);
    }
  });

  test("text logs carry the full UTC date and time", async () => {
    const r = await RegistryProcess.start({ world, broker: broker.url, protocolVersion: 4, name: "text", db: join(world.dir, "t.sqlite"), args: ["--log", "json"] });
    await r.stop();
    // Text mode: run it briefly and read its lines.
    const { spawn } = await import("node:child_process");
    const f = world.files;
    const p = spawn(process.execPath, [(await import("./support/e2e.js")).CLI, "registry", "--broker", broker.url, "--db", join(world.dir, "t.sqlite"), "--key", f.registry.key, "--oem-pub", `${f.oem.pub}:35693800-35693899`, "--http", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout!.on("data", (d) => (out += d));
    await waitFor(() => out.includes("registry.started"), "the text start-up line");
    p.kill("SIGTERM");
    await new Promise((res) => p.once("exit", res));
    const lines = out.trim().split("\n");
    for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO |WARN |ERROR|DEBUG) [a-z]/, l);
    assert.match(out, /registry\.started name=registry .* http=http:\/\/127\.0\.0\.1:\d+/);
    assert.match(lines.at(-1)!, / registry\.stopped$/);
  });
});
