// Benchmark section "fleet-tls": what mutual TLS costs a fleet in memory (docs/PROTOCOL.md §2.1).
// Two fleets of the same size in one run, each on its own Mosquitto process, the registry in this
// process's main thread and the handsets in worker threads on the lean MQTT client
// (simulator/fleet.ts), as in section "fleet":
//   (1) plain MQTT (the baseline);
//   (2) mutual TLS on the shipped configuration and ACL (deploy/mosquitto/): each handset with its
//       own certificate (CN = did), issued at provisioning, in its own SecureContext with the CA
//       (Node 20 attaches a client certificate only through a context: TLSSocket.setKeyCert does
//       nothing on a client socket), which its connection keeps alive.
//   fleet_tls_devices              handsets in each fleet (ANTITHEFT_BENCH_FLEET_TLS_DEVICES, default 2000)
//   fleet_tls_kib_per_device       (rss with the TLS fleet enrolled - rss before it) / devices
//   fleet_plain_kib_per_device     the same for the plain fleet (same size, same run)
//   fleet_tls_overhead_kib_per_device  the difference
//   fleet_tls_js_heap_kib_per_device   the workers' live JavaScript heaps / devices (TLS fleet; plain: fleet_plain_js_heap_*)
//   fleet_tls_external_kib_per_device  what the workers' V8 counts outside its heap (the TAs' wasm
//                                  memories, buffers) / devices (plain: fleet_plain_external_*)
//   fleet_tls_registry_heap_kib_per_device  the registry's (main thread's) heap growth / devices
//   fleet_tls_enrol_s              power-on until the registry enrolled the last handset (TLS)
//   fleet_tls_broker_rss_mb        the TLS broker's resident memory
//   fleet_part_*_kib               one handset's parts, each measured alone in a fresh process, n
//                                  at a time (ANTITHEFT_BENCH_FLEET_PARTS, default 500; fleet-memory.ts):
//                                  ta (a booted TA session), tls_context (its SecureContext),
//                                  tls_connection and tcp_connection (to the broker, CONNECT answered)
// Memory is the process's resident set; each fleet is measured after the previous one is stopped
// and collected, the main thread and every worker (global.gc: `npm run bench` runs node with
// --expose-gc; without it the figures include garbage, and the section says so). Prints figures
// only; asserts nothing.
import { performance } from "node:perf_hooks";
import { TrustedApp } from "../../agent/trusted-app.js";
import type { Logger } from "../../agent/log.js";
import { ImeiSource } from "../conformance/session.js";
import { startMosquittoProcess, hasMosquitto, type BrokerProcess } from "../broker-process.js";
import { startSecureMosquittoProcess, type SecureBrokerProcess } from "../secure-broker-process.js";
import { EmbeddedSite } from "../embedded.js";
import { WorkerFleet } from "../fleet.js";
import { issueFromDir } from "../../transport/pki-dir.js";
import { handsetPartsInChild } from "./fleet-memory.js";
import type { MqttSecurity } from "../../transport/mqtt-options.js";
import type { Figures } from "./crypto.js";
import type { MeasureOptions } from "./measure.js";

const PHASE_TIMEOUT_MS = Number(process.env.ANTITHEFT_BENCH_PHASE_TIMEOUT_MS ?? 300_000);
const round = (x: number, d = 1) => Number(x.toFixed(d));

interface FleetRun {
  readonly kibPerDevice: number;
  readonly heapKibPerDevice: number;
  readonly externalKibPerDevice: number;
  readonly registryHeapKibPerDevice: number;
  readonly enrolS: number;
  readonly brokerRssMb: number;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function runFleet(n: number, workers: number, module: WebAssembly.Module, secure: boolean, log: (s: string) => void): Promise<FleetRun> {
  const broker: BrokerProcess = secure ? await startSecureMosquittoProcess({ acl: "acl" }) : await startMosquittoProcess();
  let enrolled = 0;
  const registryLog: Logger = {
    log(level, event, fields) {
      if (event === "device.enrolled") enrolled++;
      else if (level === "error") log(`registry error ${event} ${JSON.stringify(fields)}`);
    },
  };
  let security: MqttSecurity | undefined;
  let tlsCa: { certPem: string; keyPem: string } | undefined;
  if (secure) {
    const b = broker as SecureBrokerProcess;
    const reg = await issueFromDir(b.dir, { cn: "at-r-registry", usage: "client" });
    security = { tls: { ca: Buffer.from(b.ca.certPem), cert: Buffer.from(reg.certPem), key: Buffer.from(reg.keyPem), identity: "at-r-registry" } };
    tlsCa = b.ca;
  }
  const site = await EmbeddedSite.start({ broker: broker.url, mqttVersion: 5, name: "registry", log: registryLog, ...(security ? { mqttSecurity: security } : {}) });
  let fleet: WorkerFleet | undefined;
  try {
    await settle();
    const { rss: rss0, heapUsed: registryHeap0 } = process.memoryUsage();
    const src = new ImeiSource();
    const imeis = Array.from({ length: n }, () => src.next());
    fleet = await WorkerFleet.create(imeis, {
      workers, module, brokerUrl: broker.url, mqttVersion: 5, transport: "lite", oemPem: site.oemPem,
      registryPublic: site.registryKey.publicKey, measurement: site.acceptedMeasurement, concurrency: 32, ...(tlsCa ? { tlsCa } : {}),
    });
    const t = performance.now();
    await fleet.powerOn();
    for (const end = performance.now() + PHASE_TIMEOUT_MS; enrolled < n; ) {
      if (performance.now() > end) throw new Error(`gave up waiting for ${n} enrolments (${enrolled} so far)`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const enrolS = (performance.now() - t) / 1000;
    let counts = await fleet.counts();
    for (const end = performance.now() + 15_000; counts.connected < n && performance.now() < end; counts = await fleet.counts()) await new Promise((r) => setTimeout(r, 250));
    counts = await fleet.counts(true);
    await settle();
    const { rss: rss1, heapUsed: registryHeap1 } = process.memoryUsage();
    log(`${secure ? "mutual TLS" : "plain MQTT"}: ${enrolled} enrolled in ${round(enrolS)} s; ${counts.connected} connected; rss +${Math.round((rss1 - rss0) / 2 ** 20)} MiB; broker rss ${Math.round(broker.rssKiB() / 1024)} MiB`);
    return {
      kibPerDevice: (rss1 - rss0) / 1024 / n,
      heapKibPerDevice: counts.heapUsed / 1024 / n,
      externalKibPerDevice: counts.external / 1024 / n,
      registryHeapKibPerDevice: (registryHeap1 - registryHeap0) / 1024 / n,
      enrolS,
      brokerRssMb: Math.round(broker.rssKiB() / 1024),
    };
  } finally {
    await fleet?.close().catch(() => undefined);
    await site.stop().catch(() => undefined);
    await broker.stop().catch(() => undefined);
  }
}

export async function benchFleetTls(_opts: MeasureOptions): Promise<Figures> {
  const log = (s: string) => process.stderr.write(`  [fleet-tls] ${s}\n`);
  if (!hasMosquitto()) {
    log("skipped: needs mosquitto (apt-get install mosquitto)");
    return { fleet_tls_skipped: "needs mosquitto" };
  }
  if (typeof (globalThis as { gc?: unknown }).gc !== "function") log("node runs without --expose-gc: the memory figures include uncollected garbage");
  const n = Number(process.env.ANTITHEFT_BENCH_FLEET_TLS_DEVICES ?? 2000);
  if (!Number.isInteger(n) || n < 1) throw new RangeError("ANTITHEFT_BENCH_FLEET_TLS_DEVICES must be a positive integer");
  const workers = Number(process.env.ANTITHEFT_BENCH_FLEET_WORKERS ?? 2);
  const module = await TrustedApp.compile();
  const plain = await runFleet(n, workers, module, false, log);
  await settle();
  const tls = await runFleet(n, workers, module, true, log);
  await settle();
  const partsN = Number(process.env.ANTITHEFT_BENCH_FLEET_PARTS ?? 500);
  if (!Number.isInteger(partsN) || partsN < 1) throw new RangeError("ANTITHEFT_BENCH_FLEET_PARTS must be a positive integer");
  const parts = await handsetPartsInChild(partsN);
  log(`one handset's parts, ${partsN} of each: TA session ${round(parts.taKib)} KiB, SecureContext ${round(parts.contextKib)} KiB, TLS connection ${round(parts.tlsKib)} KiB, TCP connection ${round(parts.tcpKib)} KiB`);
  return {
    fleet_tls_devices: n,
    fleet_tls_kib_per_device: round(tls.kibPerDevice),
    fleet_plain_kib_per_device: round(plain.kibPerDevice),
    fleet_tls_overhead_kib_per_device: round(tls.kibPerDevice - plain.kibPerDevice),
    fleet_tls_js_heap_kib_per_device: round(tls.heapKibPerDevice),
    fleet_plain_js_heap_kib_per_device: round(plain.heapKibPerDevice),
    fleet_tls_external_kib_per_device: round(tls.externalKibPerDevice),
    fleet_plain_external_kib_per_device: round(plain.externalKibPerDevice),
    fleet_tls_registry_heap_kib_per_device: round(tls.registryHeapKibPerDevice),
    fleet_plain_registry_heap_kib_per_device: round(plain.registryHeapKibPerDevice),
    fleet_tls_enrol_s: round(tls.enrolS),
    fleet_tls_broker_rss_mb: tls.brokerRssMb,
    fleet_part_ta_kib: round(parts.taKib),
    fleet_part_tls_context_kib: round(parts.contextKib),
    fleet_part_tls_connection_kib: round(parts.tlsKib),
    fleet_part_tcp_connection_kib: round(parts.tcpKib),
  };
}
