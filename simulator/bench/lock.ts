// Benchmark section "lock": owner report -> handset locked and its result received at
// the registry, with many handsets connected, all in this process: the embedded broker (aedes,
// MQTT 3.1.1), the registry (SQLite in a temp folder, synchronous=FULL; HTTP on loopback) and
// LOCK_DEVICES agents, each with its own TA instance of one compiled WebAssembly.Module, an
// in-memory device folder (a phone's flash: no fsync) and a SimulatedHandset.
// Each sample is one owner's signed report-stolen POSTed over HTTP to a different handset, one at
// a time, timed until (a) the handset's platform is locked and (b) the registry has verified and
// committed the handset's SUCCEEDED result. Prints figures only; asserts nothing.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { generateEd25519, imeiFromTacSnr, nodeSigner } from "../../attestation/index.js";
import { Agent } from "../../agent/agent.js";
import { DeviceFolder } from "../../agent/device-folder.js";
import { SimulatedHandset } from "../../agent/enforcement.js";
import { provisionDevice } from "../../agent/factory.js";
import type { Logger } from "../../agent/log.js";
import { mqttTransport } from "../../agent/mqtt-link.js";
import { DeviceSession } from "../../agent/session.js";
import { TrustedApp } from "../../agent/trusted-app.js";
import { Registry } from "../../registry/registry.js";
import { RegistryClient } from "../../registry/client.js";
import { signingKey } from "../../registry/keys.js";
import { buildRequest } from "../../registry/request-codec.js";
import { startEmbeddedBroker } from "../embedded-broker.js";
import type { Figures } from "./crypto.js";
import type { MeasureOptions } from "./measure.js";

/** Handsets connected during the measurement(at least 1,000). ANTITHEFT_BENCH_LOCK_DEVICES overrides. */
export const LOCK_DEVICES = 1000;
/** Give up on any one phase after this long. */
const PHASE_TIMEOUT_MS = 300_000;

interface Device {
  readonly folder: DeviceFolder;
  readonly imei: string;
  readonly did: string;
  agent?: Agent;
  locked?: () => void;
}

/** p-th percentile (nearest rank) of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const round = (x: number, digits = 1) => Number(x.toFixed(digits));

export async function benchLock(opts: MeasureOptions): Promise<Figures> {
  const n = Number(process.env.ANTITHEFT_BENCH_LOCK_DEVICES ?? LOCK_DEVICES);
  if (!Number.isInteger(n) || n < 1) throw new RangeError("ANTITHEFT_BENCH_LOCK_DEVICES must be a positive integer");
  // About 500 samples per measured second (the default --seconds 1), each on a fresh handset.
  const samples = Math.min(n, Math.max(100, Math.round(500 * opts.seconds)));
  const log = (s: string) => process.stderr.write(`  [lock] ${s}\n`);

  const dir = await mkdtemp(join(tmpdir(), "antitheft-bench-lock-"));
  const broker = await startEmbeddedBroker();
  const module = await TrustedApp.compile();
  const oem = nodeSigner(generateEd25519().privateKey);
  const registryKey = signingKey(generateEd25519().privateKey);
  const owner = signingKey(generateEd25519().privateKey);

  let enrolled = 0;
  const results = new Map<string, () => void>();
  const enrolWaiters: (() => void)[] = [];
  const registryLog: Logger = {
    log(level, event, fields) {
      if (event === "device.enrolled") {
        enrolled++;
        for (const w of enrolWaiters.splice(0)) w();
      } else if (event === "command.result" && fields?.status === "SUCCEEDED") {
        results.get(String(fields.did))?.();
      } else if (level === "error") {
        log(`registry error ${event} ${JSON.stringify(fields)}`);
      }
    },
  };
  const registry = new Registry({
    db: join(dir, "registry.sqlite"),
    registryKey,
    oemRoots: [oem.publicKey],
    mqtt: { url: broker.url, name: "bench" },
    http: { host: "127.0.0.1", port: 0 },
    log: registryLog,
    // One owner key claims and reports every sampled handset (a claim code and a claim, then a
    // report: three requests per sample), far beyond the per-signer budget a real owner needs
    // (PROTOCOL.md §6.4, default 30 / 0.5 per s), which would answer 429 from the 16th handset.
    // The bench measures the lock path, not the limiter, so its registry raises that one limit.
    rateLimits: { owner: { burst: 3 * samples + 100, perSecond: 0.5 } },
  });
  const devices: Device[] = [];
  try {
    await registry.start();
    const http = new RegistryClient(registry.httpUrl!);

    // Factory.
    let t = performance.now();
    for (let i = 0; i < n; i++) {
      const folder = DeviceFolder.inMemory();
      const imei = imeiFromTacSnr(`35${String(i).padStart(12, "0")}`);
      const info = await provisionDevice(folder, module, { imei, oem, registryKeys: [registryKey.publicKey], model: "Bench Phone" });
      devices.push({ folder, imei, did: info.did });
    }
    log(`${n} handsets provisioned in ${round((performance.now() - t) / 1000)} s`);

    // Boot every agent, then wait until every handset is enrolled.
    t = performance.now();
    const rssBefore = process.memoryUsage().rss;
    for (const d of devices) {
      const platform = new SimulatedHandset((e) => {
        if (e.action === "lock") d.locked?.();
      }, 2);
      d.agent = await Agent.start({
        folder: d.folder,
        module,
        transport: mqttTransport(broker.url),
        enforcer: platform,
        heartbeatS: 0,
        backoff: { baseMs: 200, capMs: 5000 },
      });
    }
    await until(() => enrolled >= n, (wake) => enrolWaiters.push(wake), () => `${n} enrolments (${enrolled} so far)`);
    const enrolS = (performance.now() - t) / 1000;
    const rss = process.memoryUsage().rss;
    log(`${n} agents connected and enrolled in ${round(enrolS)} s; ${broker.clients} MQTT clients; rss ${Math.round(rss / 2 ** 20)} MiB`);

    // The owner claims the handsets to be reported, each with its own proof.
    const picked = pick(devices, samples);
    for (const d of picked) {
      const c = await http.send(buildRequest(owner.signer, { type: "claim-code", imei: d.imei, key: owner.coseKey }, registryKey.kid));
      if (c.status !== 200) throw new Error(`claim code for ${d.imei} refused: ${JSON.stringify(c.body)}`);
      const code = String(c.body.code);
      const proof = (await DeviceSession.boot(d.folder, module, { commit: false })).claimProof(code);
      const a = await http.send(buildRequest(owner.signer, { type: "claim", imei: d.imei, key: owner.coseKey, code, proof }, registryKey.kid));
      if (a.status !== 200) throw new Error(`claim of ${d.imei} refused: ${JSON.stringify(a.body)}`);
    }

    // Warm-up (JIT, first-use paths), not counted: a few handsets locked the same way.
    const warm = Math.min(10, Math.floor(picked.length / 10));
    for (const d of picked.slice(0, warm)) await lockOne(http, owner, d, results);
    const lat: number[] = [];
    const device: number[] = [];
    for (const d of picked.slice(warm)) {
      const r = await lockOne(http, owner, d, results);
      lat.push(r.total);
      device.push(r.locked);
    }
    lat.sort((a, b) => a - b);
    device.sort((a, b) => a - b);
    return {
      lock_devices: n,
      lock_samples: lat.length,
      lock_p50_ms: round(percentile(lat, 50)),
      lock_p99_ms: round(percentile(lat, 99)),
      lock_max_ms: round(lat[lat.length - 1]!),
      lock_enforced_p50_ms: round(percentile(device, 50)),
      lock_enforced_p99_ms: round(percentile(device, 99)),
      lock_enrol_s: round(enrolS),
      lock_rss_mb: Math.round(rss / 2 ** 20),
      lock_kib_per_device: Math.round((rss - rssBefore) / 1024 / n),
    };
  } finally {
    for (const d of devices) await d.agent?.stop(false).catch(() => undefined);
    await registry.stop().catch(() => undefined);
    await broker.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** One sample: POST report-stolen, wait for the platform lock and the registry's result. */
async function lockOne(
  http: RegistryClient,
  owner: ReturnType<typeof signingKey>,
  d: Device,
  results: Map<string, () => void>,
): Promise<{ total: number; locked: number }> {
  let lockedAt = 0;
  const locked = new Promise<void>((r) => (d.locked = () => ((lockedAt = performance.now()), r())));
  const result = new Promise<void>((r) => results.set(d.did, r));
  const t0 = performance.now();
  const a = await http.send(buildRequest(owner.signer, { type: "report-stolen", imei: d.imei, message: "stolen", contact: "+1 555 0100" }, await http.audience()));
  if (a.status !== 200) throw new Error(`report of ${d.imei} refused: ${JSON.stringify(a.body)}`);
  await withTimeout(Promise.all([locked, result]), `the lock of ${d.imei}`);
  const total = performance.now() - t0;
  results.delete(d.did);
  d.locked = undefined;
  return { total, locked: lockedAt - t0 };
}

/** `count` handsets spread evenly over the fleet. */
function pick<T>(all: readonly T[], count: number): T[] {
  const out: T[] = [];
  for (let i = 0; i < count; i++) out.push(all[Math.floor((i * all.length) / count)]!);
  return out;
}

async function until(done: () => boolean, onChange: (wake: () => void) => void, what: () => string): Promise<void> {
  const deadline = performance.now() + PHASE_TIMEOUT_MS;
  while (!done()) {
    if (performance.now() > deadline) throw new Error(`gave up waiting for ${what()}`);
    await new Promise<void>((r) => {
      const t = setTimeout(r, 1000);
      onChange(() => (clearTimeout(t), r()));
    });
  }
}

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`gave up waiting for ${what}`)), 30_000))),
  ]);
}
