// Fleets: many handsets at once. driverFleet keeps them in this thread (any HandsetDriver);
// WorkerFleet spreads them over worker threads (fleet-worker.ts), each running virtual handsets
// on the lean MQTT client, so both cores work and the main thread stays free for the registry
// and the suite. One compiled TA module is shared with every worker (structured clone of a
// WebAssembly.Module shares the compiled code) and instantiated once per handset boot.
// Each worker's young generation is capped (youngGenerationMb): V8 otherwise grows it to tens
// of MiB per worker under the enrolment burst and keeps it resident, memory no handset holds.
import { Worker } from "node:worker_threads";
import type { Fleet, FleetFactory, FleetMember, Handset, HandsetDriver, ProvisionSpec } from "./conformance/target.js";

export interface FleetInit {
  readonly module: WebAssembly.Module;
  readonly brokerUrl: string;
  readonly mqttVersion: 4 | 5;
  readonly transport: "lite" | "mqtt.js";
  /** The OEM factory key, PKCS#8 PEM (workers endorse their handsets). */
  readonly oemPem: string;
  readonly registryPublic: Uint8Array;
  readonly measurement?: Uint8Array;
  readonly imeis: readonly string[];
  /**
   * mqtts:// brokers: the device CA (PEM). Each worker issues its handsets' TLS client certificates
   * (CN = did) as a factory would, and connects them with their own (lite transport only).
   */
  readonly tlsCa?: { readonly certPem: string; readonly keyPem: string };
}

export type ToWorker = { op: "init"; init: FleetInit } | { op: "powerOn"; concurrency: number } | { op: "counts"; collect?: boolean } | { op: "stop" };
export type ToMain =
  | { op: "provisioned"; members: FleetMember[] }
  | { op: "progress"; stage: "provisioned" | "booted"; done: number }
  | { op: "powered" }
  | { op: "locked"; events: { did: string; at: number }[] }
  | { op: "counts"; connected: number; attested: number; heapUsed: number; external: number }
  | { op: "stopped" }
  | { op: "error"; message: string };

/** A fleet of one driver's handsets in this thread. */
export async function driverFleet(driver: HandsetDriver, imeis: readonly string[], spec: Omit<ProvisionSpec, "imei">): Promise<Fleet> {
  const handsets: Handset[] = [];
  for (const imei of imeis) handsets.push(await driver.provision({ ...spec, imei }));
  const byDid = new Map(handsets.map((h) => [h.did, h]));
  return {
    members: handsets.map((h) => ({ imei: h.imei, did: h.did })),
    async powerOn(progress) {
      let n = 0;
      let next = 0;
      await Promise.all(Array.from({ length: Math.min(256, handsets.length) }, async () => {
        while (next < handsets.length) {
          await handsets[next++]!.powerOn();
          progress?.(++n);
        }
      }));
    },
    lockedAt(did) {
      const h = byDid.get(did);
      if (!h?.screen().locked) return undefined;
      return h.enforcement().filter((e) => e.action === "lock").at(-1)?.at;
    },
    async close() {
      await Promise.allSettled(handsets.map((h) => h.powerOff(false)));
    },
  };
}

/** Default cap on a fleet worker's young generation, MiB (see WorkerFleetOptions.youngGenerationMb). */
export const DEFAULT_YOUNG_GENERATION_MB = 8;

export interface WorkerFleetOptions extends Omit<FleetInit, "imeis"> {
  /** Worker threads (default 2). */
  readonly workers?: number;
  /** Handsets each worker boots at once (default 64). */
  readonly concurrency?: number;
  /**
   * Cap on each worker's young generation, MiB (Worker resourceLimits.maxYoungGenerationSizeMb;
   * default DEFAULT_YOUNG_GENERATION_MB). A handset's objects live long or die at once, so a
   * small young generation costs a few more scavenges and saves resident memory.
   */
  readonly youngGenerationMb?: number;
  readonly onProgress?: (stage: "provisioned" | "booted", done: number) => void;
}

/** One worker: requests answered by a reply op (one outstanding request per reply op). */
class Remote {
  readonly #pending = new Map<string, { resolve: (m: ToMain) => void; reject: (e: Error) => void }>();
  #failed: Error | undefined;

  constructor(
    readonly worker: Worker,
    onEvent: (m: ToMain) => void,
  ) {
    worker.on("message", (m: ToMain) => {
      onEvent(m);
      if (m.op === "error") return this.#fail(new Error(`fleet worker: ${m.message}`));
      const p = this.#pending.get(m.op);
      this.#pending.delete(m.op);
      p?.resolve(m);
    });
    worker.on("error", (e) => this.#fail(e));
  }

  #fail(e: Error): void {
    this.#failed = e;
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }

  ask(m: ToWorker, reply: ToMain["op"]): Promise<ToMain> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#pending.set(reply, { resolve, reject });
      this.worker.postMessage(m);
    });
  }
}

/** Handsets spread over worker threads. */
export class WorkerFleet implements Fleet {
  readonly members: FleetMember[] = [];
  readonly #remotes: Remote[];
  readonly #locks = new Map<string, number>();
  readonly #o: WorkerFleetOptions;
  readonly #progress = new Map<Remote, { provisioned: number; booted: number }>();

  private constructor(o: WorkerFleetOptions, remotes: Remote[]) {
    this.#o = o;
    this.#remotes = remotes;
  }

  /** Starts the workers and provisions `imeis` (split evenly), powered off. */
  static async create(imeis: readonly string[], o: WorkerFleetOptions): Promise<WorkerFleet> {
    const k = Math.max(1, Math.min(o.workers ?? 2, imeis.length));
    const fleet = new WorkerFleet(o, []);
    for (let i = 0; i < k; i++) {
      const worker = new Worker(new URL("./fleet-worker.js", import.meta.url), {
        resourceLimits: { maxYoungGenerationSizeMb: o.youngGenerationMb ?? DEFAULT_YOUNG_GENERATION_MB },
      });
      const r: Remote = new Remote(worker, (m) => fleet.#onMessage(r, m));
      fleet.#remotes.push(r);
      fleet.#progress.set(r, { provisioned: 0, booted: 0 });
    }
    try {
      const shares = fleet.#remotes.map((_, i) => imeis.filter((_, j) => j % k === i));
      const { oemPem, module, brokerUrl, mqttVersion, transport, registryPublic, measurement, tlsCa } = o;
      const replies = await Promise.all(
        fleet.#remotes.map((r, i) =>
          r.ask({ op: "init", init: { module, brokerUrl, mqttVersion, transport, oemPem, registryPublic, ...(measurement ? { measurement } : {}), ...(tlsCa ? { tlsCa } : {}), imeis: shares[i]! } }, "provisioned"),
        ),
      );
      for (const rep of replies) if (rep.op === "provisioned") fleet.members.push(...rep.members);
      return fleet;
    } catch (e) {
      await fleet.close();
      throw e;
    }
  }

  /** A FleetFactory for targets (conformance mass block at scale). */
  static factory(o: Omit<WorkerFleetOptions, "registryPublic" | "measurement">): FleetFactory {
    return (imeis, spec) => WorkerFleet.create(imeis, { ...o, registryPublic: spec.registryKeys[0]!, ...(spec.measurement ? { measurement: spec.measurement } : {}) });
  }

  #onMessage(r: Remote, m: ToMain): void {
    if (m.op === "locked") for (const e of m.events) this.#locks.set(e.did, e.at);
    if (m.op === "progress") {
      const p = this.#progress.get(r)!;
      p[m.stage] = m.done;
      let total = 0;
      for (const x of this.#progress.values()) total += x[m.stage];
      this.#o.onProgress?.(m.stage, total);
    }
  }

  async powerOn(progress?: (booted: number) => void): Promise<void> {
    const tick = setInterval(() => {
      let n = 0;
      for (const x of this.#progress.values()) n += x.booted;
      progress?.(n);
    }, 100);
    try {
      await Promise.all(this.#remotes.map((r) => r.ask({ op: "powerOn", concurrency: this.#o.concurrency ?? 64 }, "powered")));
      progress?.(this.members.length);
    } finally {
      clearInterval(tick);
    }
  }

  lockedAt(did: string): number | undefined {
    return this.#locks.get(did);
  }

  /**
   * Connected handsets and answered challenges, summed over the workers, with the workers' live
   * JavaScript heaps and the memory V8 knows of outside them (wasm memories, buffers). `collect`:
   * each worker first runs a full garbage collection (when node runs with --expose-gc), so a
   * memory figure counts what the handsets hold, not garbage a worker has yet to collect.
   */
  async counts(collect = false): Promise<{ connected: number; attested: number; heapUsed: number; external: number }> {
    const all = await Promise.all(this.#remotes.map((r) => r.ask({ op: "counts", collect }, "counts")));
    const sum = { connected: 0, attested: 0, heapUsed: 0, external: 0 };
    for (const c of all) if (c.op === "counts") (sum.connected += c.connected), (sum.attested += c.attested), (sum.heapUsed += c.heapUsed), (sum.external += c.external);
    return sum;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#remotes.map((r) => r.ask({ op: "stop" }, "stopped")));
    await Promise.allSettled(this.#remotes.map((r) => r.worker.terminate()));
  }
}
