// Targets outside this process: a third-party registry (its URL, its broker, the keys it pins),
// third-party handsets through a driver module, and restart hooks given as shell commands.
// docs/CONFORMANCE.md "Testing your registry" and "Testing your agent" explain each piece.
import { spawn } from "node:child_process";
import { createConnection } from "node:net";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import type { KeyObject } from "node:crypto";
import { nodeSigner, privateKeyToPem } from "../../attestation/index.js";
import { signingKey } from "../../registry/keys.js";
import { WorkerFleet } from "../fleet.js";
import type { HandsetDriver, LedgerMembership, Target } from "./target.js";

/** What a driver module's `createDriver` receives. */
export interface DriverContext {
  readonly brokerUrl: string;
  readonly mqttVersion: 4 | 5;
  /** Our compiled Trusted App (a driver may use it or bring its own). */
  readonly module: WebAssembly.Module;
  /** The measurement handsets should report (the registry accepts it), if any. */
  readonly measurement?: Uint8Array;
}

/**
 * Loads a third-party driver: an ES module exporting
 * `createDriver(context: DriverContext): HandsetDriver | Promise<HandsetDriver>`.
 */
export async function loadDriver(path: string, context: DriverContext): Promise<HandsetDriver> {
  const mod = (await import(pathToFileURL(resolve(path)).href)) as { createDriver?: (c: DriverContext) => HandsetDriver | Promise<HandsetDriver> };
  if (typeof mod.createDriver !== "function") throw new TypeError(`${path} does not export createDriver(context)`);
  const d = await mod.createDriver(context);
  if (!d || typeof d.provision !== "function" || !Array.isArray(d.capabilities)) throw new TypeError(`${path}: createDriver did not return a HandsetDriver`);
  return d;
}

/** Runs `sh -c command`; rejects unless it exits 0. */
export function shell(command: string, timeoutMs = 60_000): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn("sh", ["-c", command], { stdio: ["ignore", "inherit", "inherit"] });
    const t = setTimeout(() => (p.kill("SIGKILL"), reject(new Error(`"${command}" did not finish within ${timeoutMs} ms`))), timeoutMs);
    p.once("error", (e) => (clearTimeout(t), reject(e)));
    p.once("exit", (code) => (clearTimeout(t), code === 0 ? resolvePromise() : reject(new Error(`"${command}" exited with ${code}`))));
  });
}

/** Resolves once `check` succeeds (polled every 100 ms), or rejects after `timeoutMs`. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > end) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const tcpOpen = (url: string): Promise<boolean> =>
  new Promise((r) => {
    const u = new URL(url);
    const c = createConnection({ host: u.hostname.replace(/^\[(.*)\]$/, "$1"), port: Number(u.port || 1883) });
    c.once("connect", () => (c.destroy(), r(true)));
    c.once("error", () => r(false));
  });

export interface ExternalTargetOptions {
  readonly brokerUrl: string;
  readonly mqttVersion: 4 | 5;
  readonly registryUrl: string;
  /** The registry's command public key (raw), provisioned into handsets. */
  readonly registryPublic: Uint8Array;
  /** An OEM factory key the registry pins. */
  readonly oemKey: KeyObject;
  readonly authorityKey?: KeyObject;
  /** A second OEM key the registry pins for TAC ranges that include `tac` (Capability "oem-ranges"). */
  readonly rangedOem?: { readonly key: KeyObject; readonly tac: string };
  readonly acceptedMeasurement?: Uint8Array;
  /** Shell command that restarts the registry (the suite then waits for its HTTP interface). */
  readonly restartRegistry?: string;
  /** Shell command that restarts the broker (the suite then waits for it to accept connections). */
  readonly restartBroker?: string;
  /**
   * The federation the suite plays (Capability "ledger"): two private keys whose public halves
   * the registry pins as ledger peers, and the federation key it holds.
   */
  readonly ledger?: { readonly peerKeys: readonly [KeyObject, KeyObject]; readonly federationKey: Uint8Array; readonly peerSecurity?: LedgerMembership["peerSecurity"] };
  readonly driver: HandsetDriver;
  /** Worker threads for a mass block's fleet (0: the driver's handsets). */
  readonly workers?: number;
  readonly module: WebAssembly.Module;
}

export function externalTarget(o: ExternalTargetOptions): Target {
  const base = o.registryUrl.replace(/\/+$/, "");
  return {
    name: `registry at ${base}`,
    brokerUrl: o.brokerUrl,
    mqttVersion: o.mqttVersion,
    registryUrl: () => base,
    registryPublic: o.registryPublic,
    oem: nodeSigner(o.oemKey),
    ...(o.authorityKey ? { authority: nodeSigner(o.authorityKey) } : {}),
    ...(o.acceptedMeasurement ? { acceptedMeasurement: o.acceptedMeasurement } : {}),
    ...(o.rangedOem ? { rangedOem: { signer: nodeSigner(o.rangedOem.key), tac: o.rangedOem.tac } } : {}),
    ...(o.restartRegistry
      ? {
          restartRegistry: async () => {
            await shell(o.restartRegistry!);
            await until(async () => (await fetch(`${base}/n5g-eir-eic/v1/equipment-status?pei=imei-490154203237518`)).status > 0, "the registry did not answer HTTP again");
          },
        }
      : {}),
    ...(o.restartBroker
      ? {
          restartBroker: async () => {
            await shell(o.restartBroker!);
            await until(() => tcpOpen(o.brokerUrl), "the broker did not accept connections again");
          },
        }
      : {}),
    ...(o.ledger
      ? { ledger: { peers: [signingKey(o.ledger.peerKeys[0]), signingKey(o.ledger.peerKeys[1])] as const, federationKey: o.ledger.federationKey, ...(o.ledger.peerSecurity ? { peerSecurity: o.ledger.peerSecurity } : {}) } }
      : {}),
    driver: o.driver,
    ...(o.workers && o.workers > 0
      ? {
          fleet: WorkerFleet.factory({
            workers: o.workers,
            module: o.module,
            brokerUrl: o.brokerUrl,
            mqttVersion: o.mqttVersion,
            transport: "lite",
            oemPem: privateKeyToPem(o.oemKey),
          }),
        }
      : {}),
  };
}
