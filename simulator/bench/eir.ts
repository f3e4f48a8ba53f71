// Benchmark section "eir": TS 29.511 equipment-status lookups over HTTP and enrolments, with the
// registry on SQLite and on PostgreSQL (docs/STORAGE.md §6).
// Set-up per backend: a registry (this process's main thread) whose database holds N bulk-loaded
// devices (default 1,000,000, one IMEI each) of which every tenth is flagged stolen (eir-data.ts:
// loaded with SQL, not through enrolment, by a process of its own: eir-data-process.ts); the load generator is a separate OS process
// (eir-load.ts) with 16 lookups in flight over keep-alive HTTP/1.1, IMEIs uniform over all N.
// PostgreSQL runs in a throwaway cluster (simulator/postgres-cluster.ts) when installed.
//   eir_lookups_per_s, eir_p99_ms, eir_p50_ms           SQLite: lookups answered per second, latency
//   eir_pg_lookups_per_s, eir_pg_p99_ms, eir_pg_p50_ms  the same on PostgreSQL
//   eir_saturated_lookups_per_s, eir_saturated_p99_ms   SQLite with 4x as many in flight: the
//                          registry saturated, latency is queueing (Little's law)
//   enrol_per_s, enrol_pg_per_s   handsets (worker threads, real agent and TA) powered on together
//                          until the registry verified and enrolled the last one: handsets / seconds
//   eir_load_s, eir_pg_load_s     the bulk load
//   eir_snapshot_build_s   the SQLite registry's status snapshot built at start (registry/status-snapshot.ts),
//                          after which (and a garbage collection) the lookups are measured (PostgreSQL: a
//                          cache that fills as lookups come)
// Env: ANTITHEFT_BENCH_EIR_IMEIS (default 1000000), ANTITHEFT_BENCH_ENROL_DEVICES (1000),
// ANTITHEFT_BENCH_EIR_CONCURRENCY (16). Prints figures only; asserts nothing.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { TrustedApp } from "../../agent/trusted-app.js";
import type { Logger } from "../../agent/log.js";
import { StatusSnapshot } from "../../registry/status-snapshot.js";
import { ImeiSource } from "../conformance/session.js";
import { startBrokerProcess, type BrokerProcess } from "../broker-process.js";
import { EmbeddedSite } from "../embedded.js";
import { WorkerFleet } from "../fleet.js";
import { postgresBin, startPostgres, type PgCluster } from "../postgres-cluster.js";
import type { Figures } from "./crypto.js";
import { envInt, type MeasureOptions } from "./measure.js";

const run = promisify(execFile);
const round = (x: number, d = 2) => Number(x.toFixed(d));
const log = (s: string) => process.stderr.write(`  [eir] ${s}\n`);

interface LoadResult {
  readonly n: number;
  readonly seconds: number;
  readonly p50_ms: number;
  readonly p99_ms: number;
  readonly statuses: Record<string, number>;
  readonly errors: number;
}

async function lookups(baseUrl: string, imeis: number, seconds: number, concurrency: number): Promise<LoadResult> {
  const script = fileURLToPath(new URL("./eir-load.js", import.meta.url));
  const { stdout } = await run(process.execPath, [script, baseUrl, String(imeis), String(seconds), String(concurrency)], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as LoadResult;
}

async function enrolRate(db: string, broker: BrokerProcess, module: WebAssembly.Module, n: number): Promise<number> {
  let enrolled = 0;
  const registryLog: Logger = { log: (_l, event) => void (event === "device.enrolled" && enrolled++) };
  const mqttVersion = broker.versions.includes(5) ? 5 : 4;
  const site = await EmbeddedSite.start({ broker: broker.url, mqttVersion, log: registryLog, db });
  let fleet: WorkerFleet | undefined;
  try {
    const imeis = Array.from({ length: n }, ((src) => () => src.next())(new ImeiSource()));
    fleet = await WorkerFleet.create(imeis, {
      workers: 2, module, brokerUrl: broker.url, mqttVersion, transport: "lite", oemPem: site.oemPem,
      registryPublic: site.registryKey.publicKey, measurement: site.acceptedMeasurement, concurrency: 32,
    });
    const t0 = performance.now();
    await fleet.powerOn();
    const end = t0 + 300_000;
    while (enrolled < n) {
      if (performance.now() > end) throw new Error(`gave up waiting for ${n} enrolments (${enrolled})`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return n / ((performance.now() - t0) / 1000);
  } finally {
    await fleet?.close().catch(() => undefined);
    await site.stop().catch(() => undefined);
  }
}

async function backend(name: "sqlite" | "postgres", db: string, o: { imeis: number; seconds: number; concurrency: number; enrol: number; broker: BrokerProcess; module: WebAssembly.Module }): Promise<Figures> {
  const p = name === "sqlite" ? "eir" : "eir_pg";
  const t = performance.now();
  // glibc's malloc would hand freed memory back to the kernel and fault it in again, row after
  // row (4x slower, mostly system time): a large trim threshold and top pad keep it.
  const env = { ...process.env, MALLOC_TRIM_THRESHOLD_: String(256 << 20), MALLOC_TOP_PAD_: String(64 << 20) };
  await run(process.execPath, [fileURLToPath(new URL("./eir-data-process.js", import.meta.url)), db, String(o.imeis)], { env });
  const loadS = (performance.now() - t) / 1000;
  log(`${name}: ${o.imeis} devices loaded in ${round(loadS, 1)} s`);
  const site = await EmbeddedSite.start({ broker: o.broker.url, mqttVersion: o.broker.versions.includes(5) ? 5 : 4, db });
  let r: LoadResult;
  let buildS = 0;
  let saturated: LoadResult | undefined;
  try {
    // Steady state: the SQLite registry's status snapshot (started by the registry) is built.
    const snapshot = site.registry.store.statusCache;
    while (!snapshot.ready) await new Promise((res) => setTimeout(res, 20));
    if (snapshot instanceof StatusSnapshot) buildS = snapshot.buildMs / 1000;
    // Steady state: the build's garbage (a million page rows) collected now rather than by a
    // major collection inside the measured seconds (bench.js runs node with --expose-gc).
    (globalThis as { gc?: () => void }).gc?.();
    r = await lookups(site.directUrl, o.imeis, o.seconds, o.concurrency);
    if (name === "sqlite") saturated = await lookups(site.directUrl, o.imeis, o.seconds, o.concurrency * 4);
  } finally {
    await site.stop();
  }
  log(`${name}: ${r.n} lookups in ${round(r.seconds, 1)} s, statuses ${JSON.stringify(r.statuses)}, errors ${r.errors}`);
  if (r.errors > 0) throw new Error(`${name}: ${r.errors} lookups failed`);
  const enrol = await enrolRate(db, o.broker, o.module, o.enrol); // into the loaded database
  return {
    [`${p}_lookups_per_s`]: Math.round(r.n / r.seconds),
    [`${p}_p50_ms`]: round(r.p50_ms, 3),
    [`${p}_p99_ms`]: round(r.p99_ms, 3),
    [`${p}_load_s`]: round(loadS, 1),
    ...(saturated
      ? { eir_snapshot_build_s: round(buildS, 1), eir_saturated_lookups_per_s: Math.round(saturated.n / saturated.seconds), eir_saturated_p99_ms: round(saturated.p99_ms, 3) }
      : {}),
    [name === "sqlite" ? "enrol_per_s" : "enrol_pg_per_s"]: Math.round(enrol),
  };
}

export async function benchEir(opts: MeasureOptions): Promise<Figures> {
  const imeis = envInt("ANTITHEFT_BENCH_EIR_IMEIS", 1_000_000);
  const enrol = envInt("ANTITHEFT_BENCH_ENROL_DEVICES", 1000);
  const concurrency = envInt("ANTITHEFT_BENCH_EIR_CONCURRENCY", 16);
  const seconds = Math.max(5, opts.seconds * 5);
  const dir = mkdtempSync(join(tmpdir(), "at-bench-eir-"));
  const broker = await startBrokerProcess();
  const module = await TrustedApp.compile();
  let cluster: PgCluster | undefined;
  try {
    const figures: Figures = await backend("sqlite", join(dir, "eir.sqlite"), { imeis, seconds, concurrency, enrol, broker, module });
    const bin = postgresBin();
    if (!bin) {
      log("PostgreSQL is not installed: no eir_pg_* figures");
      return figures;
    }
    cluster = await startPostgres(bin);
    Object.assign(figures, await backend("postgres", await cluster.createDb("eir"), { imeis, seconds, concurrency, enrol, broker, module }));
    return figures;
  } finally {
    await cluster?.stop();
    await broker.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}
