// One worker thread of a WorkerFleet (fleet.ts): provisions its share of the handsets, powers them
// on, and reports progress and every lock to the main thread. Each handset is a VirtualHandset
// (own TA instance of the shared module, in-memory flash, own agent) on the lean MQTT client.
import { parentPort } from "node:worker_threads";
import { createPrivateKey } from "node:crypto";
import { createSecureContext, type SecureContext } from "node:tls";
import { nodeSigner } from "../attestation/index.js";
import type { Logger } from "../agent/log.js";
import { VirtualHandsetDriver, type VirtualHandset } from "./handset.js";
import { liteTransport, type LiteTls } from "./mqtt-lite.js";
import type { FleetInit, ToMain, ToWorker } from "./fleet.js";

const port = parentPort;
if (!port) throw new Error("fleet-worker.js runs as a worker thread");

let handsets: VirtualHandset[] = [];
let attested = 0;
let locked: { did: string; at: number }[] = [];
let flushTimer: NodeJS.Timeout | undefined;

const post = (m: ToMain): void => port.postMessage(m);

function flushLocks(): void {
  flushTimer = undefined;
  if (locked.length === 0) return;
  post({ op: "locked", events: locked });
  locked = [];
}

/** Counts answered challenges (the agents' own log event): one per handset while they enrol. */
const logger: Logger = {
  log(_level, event) {
    if (event === "challenge.answered") attested++;
  },
};

function recordLock(did: string, at: number): void {
  locked.push({ did, at });
  flushTimer ??= setTimeout(flushLocks, 10);
}

async function pool<T>(items: readonly T[], n: number, f: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) await f(items[next++]!);
  }));
}

async function init(o: FleetInit): Promise<void> {
  const oem = nodeSigner(createPrivateKey(o.oemPem));
  // Transport identities (PROTOCOL.md §2.1): each handset's key and certificate in its own
  // SecureContext, made at its first connection and kept for its reconnections (mqtt-lite.ts LiteTls).
  const identities = new Map<string, { cert: string; key: string } | SecureContext>();
  let tls: LiteTls | undefined;
  if (o.tlsCa) {
    if (o.transport !== "lite") throw new Error("a fleet over mqtts:// runs on the lite transport");
    const ca = o.tlsCa.certPem;
    tls = {
      contextFor(clientId) {
        const id = identities.get(clientId);
        if (!id) throw new Error(`no transport identity for ${clientId}`);
        if (!("cert" in id)) return id;
        const ctx = createSecureContext({ ca, cert: id.cert, key: id.key, minVersion: "TLSv1.2" });
        identities.set(clientId, ctx);
        return ctx;
      },
    };
  }
  // MQTT.js is loaded only by a worker that uses it (a few MiB of code and heap per worker).
  const transport = o.transport === "lite" ? liteTransport(o.brokerUrl, tls) : (await import("../agent/mqtt-link.js")).mqttTransport(o.brokerUrl);
  const driver = new VirtualHandsetDriver({
    module: o.module,
    transport,
    mqttVersion: o.mqttVersion,
    ...(o.measurement ? { measurement: o.measurement } : {}),
    backoff: { baseMs: 200, capMs: 5000 },
    logger,
    onEnforce: (h, r) => {
      if (r.action === "lock") recordLock(h.did, r.at);
    },
  });
  handsets = [];
  for (const imei of o.imeis) {
    const h = await driver.provision({ imei, model: "Fleet Phone", oem, registryKeys: [o.registryPublic] });
    handsets.push(h);
    if (handsets.length % 100 === 0) post({ op: "progress", stage: "provisioned", done: handsets.length });
  }
  if (o.tlsCa) {
    const { certificateIssuer } = await import("../transport/pki.js");
    const issuer = await certificateIssuer(o.tlsCa);
    await pool(handsets, 16, async (h) => {
      const c = await issuer.issue({ cn: h.did, usage: "client" });
      identities.set(`at-d-${h.did}`, { cert: c.certPem, key: c.keyPem });
    });
  }
  post({ op: "provisioned", members: handsets.map((h) => ({ imei: h.imei, did: h.did })) });
}

async function powerOn(concurrency: number): Promise<void> {
  let booted = 0;
  await pool(handsets, concurrency, async (h) => {
    await h.powerOn();
    booted++;
    if (booted % 100 === 0) post({ op: "progress", stage: "booted", done: booted });
  });
  post({ op: "powered" });
}

function counts(collect: boolean): ToMain {
  if (collect) (globalThis as { gc?: () => void }).gc?.();
  let connected = 0;
  for (const h of handsets) if (h.online) connected++;
  const m = process.memoryUsage();
  return { op: "counts", connected, attested, heapUsed: m.heapUsed, external: m.external };
}

port.on("message", (m: ToWorker) => {
  void (async () => {
    try {
      if (m.op === "init") await init(m.init);
      else if (m.op === "powerOn") await powerOn(m.concurrency);
      else if (m.op === "counts") post(counts(m.collect ?? false));
      else if (m.op === "stop") {
        await Promise.allSettled(handsets.map((h) => h.powerOff(false)));
        flushLocks();
        post({ op: "stopped" });
      }
    } catch (e) {
      post({ op: "error", message: (e as Error)?.stack ?? String(e) });
    }
  })();
});
