// Benchmark section "fleet": how many virtual handsets one 2-core machine holds,
// connected, enrolled and attested, what each costs in memory, and how fast a mass lock lands.
// Set-up: the broker in its own process (Mosquitto when installed, else aedes in a child
// process: simulator/broker-process.ts), the reference registry in this process's main thread
// (SQLite in a temp folder, synchronous=FULL), and the handsets in worker threads of this process
// (simulator/fleet.ts: one TA instance each of one compiled module, in-memory flash, the real
// agent on the lean MQTT client).
//   fleet_devices          handsets the registry enrolled (a verified attestation each) and connected
//   fleet_rss_mb           resident memory of this process (registry + workers + handsets) at the end
//   fleet_kib_per_device   (rss after - rss before the fleet) / devices
//   fleet_js_heap_kib_per_device  the workers' JavaScript heaps / devices (the rest is mostly the
//                          TAs' linear memory: one 64 KiB page each, ~48 KiB of it touched)
//   fleet_broker_rss_mb    the broker process's resident memory
//   fleet_enrol_s          power-on of every handset until the registry enrolled the last one
//   mass_lock_devices      handsets an authority flags at once, in signed flag-batch requests of
//                          up to 500 IMEIs (mass_lock_requests of them, sent together)
//   mass_lock_s            first request sent -> the registry has every verified SUCCEEDED result
//   mass_lock_enforced_s   first request sent -> every handset's platform is locked
//   mass_lock_p50_ms/p99   per handset: its request sent -> its platform locked
//   mass_lock_single_requests_s (p50/p99)  the same for another mass_lock_devices handsets flagged
//                          with one signed flag request each, 64 in flight (the baseline)
//   mass_lock_batch_vs_single  mass_lock_single_requests_s / mass_lock_s
// Env: ANTITHEFT_BENCH_FLEET_DEVICES (default 10000), ANTITHEFT_BENCH_MASS_LOCK_DEVICES (1000),
// ANTITHEFT_BENCH_FLEET_WORKERS (2). Prints figures only; asserts nothing.
import { performance } from "node:perf_hooks";
import { TrustedApp } from "../../agent/trusted-app.js";
import type { Logger } from "../../agent/log.js";
import { RegistryClient } from "../../registry/client.js";
import { buildRequest, MAX_BATCH_IMEIS } from "../../registry/request-codec.js";
import { ImeiSource } from "../conformance/session.js";
import { pool } from "../pool.js";
import { startBrokerProcess } from "../broker-process.js";
import { EmbeddedSite } from "../embedded.js";
import { WorkerFleet } from "../fleet.js";
import { percentile } from "../stats.js";
import type { Figures } from "./crypto.js";
import { envInt, type MeasureOptions } from "./measure.js";

const PHASE_TIMEOUT_MS = 300_000;

async function until(done: () => boolean, what: () => string, timeoutMs = PHASE_TIMEOUT_MS): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > end) throw new Error(`gave up waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const round = (x: number, d = 2) => Number(x.toFixed(d));
const now = () => performance.timeOrigin + performance.now();

export async function benchFleet(_opts: MeasureOptions): Promise<Figures> {
  const n = envInt("ANTITHEFT_BENCH_FLEET_DEVICES", 10_000);
  const m = Math.min(n, envInt("ANTITHEFT_BENCH_MASS_LOCK_DEVICES", 1000));
  const workers = envInt("ANTITHEFT_BENCH_FLEET_WORKERS", 2);
  const log = (s: string) => process.stderr.write(`  [fleet] ${s}\n`);

  const broker = await startBrokerProcess();
  const mqttVersion = broker.versions.includes(5) ? 5 : 4;
  let enrolled = 0;
  const results = new Map<string, number>();
  const registryLog: Logger = {
    log(level, event, fields) {
      if (event === "device.enrolled") enrolled++;
      else if (event === "command.result" && fields?.status === "SUCCEEDED") results.set(String(fields.did), now());
      else if (level === "error") log(`registry error ${event} ${JSON.stringify(fields)}`);
    },
  };
  const module = await TrustedApp.compile();
  const site = await EmbeddedSite.start({ broker: broker.url, mqttVersion, log: registryLog });
  let fleet: WorkerFleet | undefined;
  try {
    const rss0 = process.memoryUsage().rss;
    const imeis = Array.from({ length: n }, ((src) => () => src.next())(new ImeiSource()));
    let t = performance.now();
    fleet = await WorkerFleet.create(imeis, {
      workers, module, brokerUrl: broker.url, mqttVersion, transport: "lite", oemPem: site.oemPem,
      registryPublic: site.registryKey.publicKey, measurement: site.acceptedMeasurement, concurrency: 32,
    });
    log(`${n} handsets provisioned in ${round((performance.now() - t) / 1000, 1)} s (${workers} workers, broker: ${broker.kind})`);
    t = performance.now();
    await fleet.powerOn();
    await until(() => enrolled >= n, () => `${n} enrolments (${enrolled} so far)`);
    const enrolS = (performance.now() - t) / 1000;
    // A handset whose connection dropped under the enrolment burst (a keep-alive or CONNACK
    // timeout) is back within its reconnect back-off: give stragglers up to 15 s before counting.
    let counts = await fleet.counts();
    for (const end = performance.now() + 15_000; counts.connected < n && performance.now() < end; counts = await fleet.counts()) {
      await new Promise((r) => setTimeout(r, 250));
    }
    const rss1 = process.memoryUsage().rss;
    log(`${enrolled} enrolled in ${round(enrolS, 1)} s; ${counts.connected} connected; rss ${Math.round(rss1 / 2 ** 20)} MiB; broker rss ${Math.round(broker.rssKiB() / 1024)} MiB`);

    // Mass lock, twice, on two disjoint sets of m handsets spread over the fleet:
    //  (1) the way an authority blocks a shipment: signed flag-batch requests of up to 500 IMEIs
    //      (PROTOCOL.md §6.2), all sent at once -> mass_lock_*;
    //  (2) one signed flag request per IMEI, 64 in flight -> mass_lock_single_*.
    const http = new RegistryClient(site.registryUrl());
    const text = { reason: "bench", message: "Blocked", contact: "+1 555 0100" };
    const massLock = async (picked: WorkerFleet["members"], send: () => Promise<void>, sent: Map<string, number>) => {
      const t0 = now();
      await send();
      const flaggedS = (now() - t0) / 1000;
      await until(() => picked.every((h) => results.has(h.did)), () => `${picked.length} results (${picked.filter((h) => results.has(h.did)).length} so far)`, 120_000);
      const lastResult = Math.max(...picked.map((h) => results.get(h.did)!));
      await until(() => picked.every((h) => fleet!.lockedAt(h.did) !== undefined), () => "every flagged handset to lock", 30_000);
      const lockedAts = picked.map((h) => fleet!.lockedAt(h.did)!);
      const latencies = picked.map((h, i) => lockedAts[i]! - (sent.get(h.did) ?? t0)).sort((a, b) => a - b);
      return { flaggedS, s: (lastResult - t0) / 1000, enforcedS: (Math.max(...lockedAts) - t0) / 1000, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
    };
    const spread = (offset: number) => Array.from({ length: m }, (_, i) => fleet!.members[(Math.floor((i * n) / m) + offset) % n]!);
    const batchSet = spread(0);
    const batchSent = new Map<string, number>();
    const batch = await massLock(batchSet, async () => {
      const parts: (typeof batchSet)[] = [];
      for (let i = 0; i < batchSet.length; i += MAX_BATCH_IMEIS) parts.push(batchSet.slice(i, i + MAX_BATCH_IMEIS));
      await Promise.all(parts.map(async (part) => {
        const at = now();
        for (const h of part) batchSent.set(h.did, at);
        const a = await http.send(buildRequest(site.authority.signer, { type: "flag-batch", imei: "", imeis: part.map((h) => h.imei), ...text }, site.registryKey.kid));
        const flagged = (a.body as { flagged?: unknown[] }).flagged?.length;
        if (a.status !== 200 || flagged !== part.length) throw new Error(`flag-batch refused or partial: ${JSON.stringify(a.body).slice(0, 300)}`);
      }));
    }, batchSent);
    log(`${m} flagged in ${Math.ceil(m / MAX_BATCH_IMEIS)} flag-batch requests in ${round(batch.flaggedS)} s; every result in after ${round(batch.s)} s`);
    // The second set must not overlap the first (m <= n / 2; else it is skipped).
    let single: Awaited<ReturnType<typeof massLock>> | undefined;
    if (2 * m <= n) {
      const singleSet = spread(Math.max(1, Math.floor(n / m / 2)));
      const singleSent = new Map<string, number>();
      single = await massLock(singleSet, () => pool(singleSet, 64, async (h) => {
        singleSent.set(h.did, now());
        const a = await http.send(buildRequest(site.authority.signer, { type: "flag", imei: h.imei, ...text }, site.registryKey.kid));
        if (a.status !== 200) throw new Error(`flag of ${h.imei} refused: ${JSON.stringify(a.body)}`);
      }), singleSent);
      log(`${m} flagged one request each in ${round(single.flaggedS)} s; every result in after ${round(single.s)} s`);
    }
    return {
      fleet_devices: Math.min(enrolled, counts.connected),
      fleet_workers: workers,
      fleet_broker: broker.kind === "mosquitto" ? "mosquitto (own process)" : "aedes (own process)",
      fleet_enrol_s: round(enrolS, 1),
      fleet_rss_mb: Math.round(rss1 / 2 ** 20),
      fleet_kib_per_device: Math.round((rss1 - rss0) / 1024 / n),
      fleet_js_heap_kib_per_device: Math.round(counts.heapUsed / 1024 / n),
      fleet_broker_rss_mb: Math.round(broker.rssKiB() / 1024),
      mass_lock_devices: m,
      mass_lock_requests: Math.ceil(m / MAX_BATCH_IMEIS),
      mass_lock_s: round(batch.s),
      mass_lock_enforced_s: round(batch.enforcedS),
      mass_lock_p50_ms: Math.round(batch.p50),
      mass_lock_p99_ms: Math.round(batch.p99),
      ...(single ? {
        mass_lock_single_requests_s: round(single.s),
        mass_lock_single_requests_p50_ms: Math.round(single.p50),
        mass_lock_single_requests_p99_ms: Math.round(single.p99),
        mass_lock_batch_vs_single: round(single.s / batch.s),
      } : {}),
    };
  } finally {
    await fleet?.close().catch(() => undefined);
    await site.stop().catch(() => undefined);
    await broker.stop().catch(() => undefined);
  }
}
