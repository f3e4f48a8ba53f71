// `antitheft sim`: a fleet of virtual handsets against the reference registry, on the embedded
// broker or any broker given by URL, running one or more conformance scenarios at fleet scale
// (by default the mass block of every handset). Large fleets run in worker threads on the lean
// MQTT client; the progress bar shows the live counts; the summary gives percentiles.
import { EmbeddedSite } from "./embedded.js";
import { WorkerFleet } from "./fleet.js";
import { Progress } from "./progress.js";
import { runConformance, type RunAbout, type RunReport } from "./conformance/runner.js";
import { formatTable, writeReports } from "./conformance/report.js";
import { selectScenarios } from "./conformance/scenarios/index.js";
import { labSiteOptions, type LabTls } from "./lab-tls.js";
import { siteTarget, type TransportKind } from "./conformance/suite.js";

export interface SimOptions {
  readonly module: WebAssembly.Module;
  readonly devices: number;
  /** An external broker; omitted: the embedded aedes broker. */
  readonly broker?: string;
  readonly mqttVersion?: 4 | 5;
  /** Scenario names, comma-separated, or "all" (default "mass-block"). */
  readonly scenarios?: string;
  readonly reportDir?: string;
  /** Worker threads for the fleet; 0 keeps every handset in this thread. */
  readonly workers?: number;
  /** MQTT client of the handsets in this thread (workers always use the lite one). */
  readonly transport?: TransportKind;
  readonly timeoutMs?: number;
  readonly write?: (text: string) => void;
  readonly progress?: Progress;
  /** Copied into the report: the tool, its version and commit, and its options. */
  readonly about?: RunAbout;
  /** An mqtts:// broker: the harness's identity and the device CA (simulator/lab-tls.ts). */
  readonly tls?: LabTls;
}

export interface SimResult {
  readonly report: RunReport;
  readonly files: readonly string[];
  readonly rssMb: number;
}

export async function runSim(o: SimOptions): Promise<SimResult> {
  const write = o.write ?? ((t: string) => void process.stdout.write(t));
  const progress = o.progress ?? new Progress();
  const scenarios = selectScenarios(o.scenarios ?? "mass-block");
  // The ledger costs a signature per flag: kept only when a selected scenario tests it.
  const ledger = scenarios.some((s) => s.needs?.some((c) => c.startsWith("ledger")));
  const site = await EmbeddedSite.start({ ...(o.broker ? { broker: o.broker } : {}), mqttVersion: o.mqttVersion ?? 4, ledger, ...(o.tls ? await labSiteOptions(o.tls) : {}) });
  try {
    const workers = o.workers ?? 0;
    const base = siteTarget({ site, module: o.module, transport: o.transport ?? "lite", ...(o.tls ? { tls: o.tls } : {}) });
    const target = workers > 0
      ? {
          ...base,
          fleet: WorkerFleet.factory({
            workers,
            module: o.module,
            brokerUrl: site.brokerUrl,
            mqttVersion: site.mqttVersion,
            transport: "lite",
            oemPem: site.oemPem,
            ...(o.tls ? { tlsCa: o.tls.deviceCa } : {}),
            onProgress: (stage, done) => progress.update(done, o.devices, stage),
          }),
        }
      : base;
    write(`antitheft sim: ${o.devices} handsets (${workers > 0 ? `${workers} worker threads` : "this thread"}), broker ${site.brokerUrl} (MQTT ${site.mqttVersion === 5 ? "5" : "3.1.1"}), scenarios: ${scenarios.map((s) => s.name).join(", ")}\n`);
    const report = await runConformance({
      ...(o.about ? { about: o.about } : {}),
      target,
      scenarios,
      fleetSize: o.devices,
      ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
      scenarioTimeoutMs: Math.max(120_000, o.devices * 60),
      progress: (done, total, label) => progress.update(done, total, label),
      onVerdict: (v) => {
        progress.done();
        write(`  ${v.outcome.toUpperCase().padEnd(5)} ${v.scenario} (${v.ms} ms)${v.failure ? `: ${v.failure.req ? `${v.failure.req}: ` : ""}${v.failure.message}` : ""}${v.skipReason ? `: skipped: ${v.skipReason}` : ""}\n`);
      },
    });
    const rssMb = Math.round(process.memoryUsage().rss / 2 ** 20);
    write("\n" + formatTable(report) + `  process: rss ${rssMb} MiB\n`);
    const files = o.reportDir ? await writeReports(o.reportDir, report) : [];
    if (files.length) write(`  reports: ${files.join(", ")}\n`);
    return { report, files, rssMb };
  } finally {
    await site.stop();
  }
}
