// `antitheft demo` (npm start): the whole product in one process, with no external services.
// An embedded MQTT broker (aedes), a registry with its SQLite database in a temp folder, an OEM
// key and a registry key, three factory-provisioned handsets whose agents each run their own
// Trusted App instance (one compiled WebAssembly module) on a simulated handset. The handsets
// enrol; an owner claims one with the proof the phone signs for her key and reports it stolen;
// the phone locks showing her message; networks see BLACKLISTED; she reports it found; it
// unlocks; WHITELISTED again. Printed as a timeline with the elapsed milliseconds of each step,
// then a summary. Everything is real: signatures, attestations, MQTT, HTTP and SQLite.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { generateEd25519, imeiFromTacSnr, kidOfPublic, nodeSigner, toHex } from "../attestation/index.js";
import { Agent } from "../agent/agent.js";
import { DeviceFolder, type DeviceInfo } from "../agent/device-folder.js";
import { lockScreenText, SimulatedHandset, type EnforcementEvent } from "../agent/enforcement.js";
import { provisionFolder } from "../agent/factory.js";
import type { LogFields, Logger, LogLevel } from "../agent/log.js";
import { mqttTransport } from "../agent/mqtt-link.js";
import { DeviceSession } from "../agent/session.js";
import { TrustedApp } from "../agent/trusted-app.js";
import { Registry } from "../registry/registry.js";
import { RegistryClient } from "../registry/client.js";
import { signingKey } from "../registry/keys.js";
import { buildRequest, type RequestInput } from "../registry/request-codec.js";
import { startEmbeddedBroker, type EmbeddedBroker } from "./embedded-broker.js";

export const DEMO_MESSAGE = "This phone was reported stolen. Please hand it in.";
export const DEMO_CONTACT = "+44 20 7946 0958";
/** How long any one step may take before the demo gives up (it takes milliseconds normally). */
export const STEP_TIMEOUT_MS = 15_000;

export interface DemoOptions {
  /** Where the timeline goes (default stdout). */
  readonly write?: (text: string) => void;
  /** Also print every log event of the registry and the agents. */
  readonly verbose?: boolean;
  /** The compiled TA (default build/ta.wasm). */
  readonly module?: WebAssembly.Module;
  /** The registry's HTTP port, hence the owner portal's (default 0: any free port). */
  readonly port?: number;
  /**
   * Keep the broker, registry, owner portal and handsets running after the story, until this
   * settles (`antitheft demo --serve`): a newcomer claims a demo handset with a passkey.
   */
  readonly serveUntil?: Promise<unknown>;
}

export interface DemoResult {
  readonly totalMs: number;
  readonly enrolMs: number;
  readonly lockMs: number;
  readonly lockConfirmedMs: number;
  readonly unlockMs: number;
  readonly unlockConfirmedMs: number;
  readonly statuses: readonly string[];
}

export class DemoError extends Error {
  readonly code = "E_DEMO";
}

const ACTOR_WIDTH = 9;
const INDENT = " ".repeat(8 + 2 + ACTOR_WIDTH + 1);

/** The printed timeline: `+  412 ms  registry  handset-2 enrolled (IMEI 35693803564380 9)`. */
class Timeline {
  readonly t0 = performance.now();
  constructor(readonly write: (text: string) => void) {}

  elapsed(): number {
    return performance.now() - this.t0;
  }

  step(actor: string, text: string): number {
    const ms = this.elapsed();
    this.write(`+${String(Math.round(ms)).padStart(5)} ms  ${actor.padEnd(ACTOR_WIDTH)} ${text}\n`);
    return ms;
  }

  more(text: string): void {
    this.write(`${INDENT}${text}\n`);
  }
}

/** Named events with their history, so a step can wait for one that may already have happened. */
class Signals {
  readonly #seen: { name: string; fields: LogFields; at: number }[] = [];
  readonly #waiters = new Set<{ name: string; pred: (f: LogFields) => boolean; resolve: (at: number) => void }>();
  constructor(readonly clock: () => number) {}

  emit(name: string, fields: LogFields = {}): void {
    const at = this.clock();
    this.#seen.push({ name, fields, at });
    for (const w of [...this.#waiters]) {
      if (w.name === name && w.pred(fields)) {
        this.#waiters.delete(w);
        w.resolve(at);
      }
    }
  }

  /** Resolves with the time of the first event `name` (at or after `since`) matching `pred`. */
  wait(name: string, what: string, pred: (f: LogFields) => boolean = () => true, since = 0): Promise<number> {
    const past = this.#seen.find((s) => s.name === name && s.at >= since && pred(s.fields));
    if (past) return Promise.resolve(past.at);
    return new Promise((resolve, reject) => {
      const w = {
        name,
        pred,
        resolve: (at: number) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(w);
        reject(new DemoError(`gave up after ${STEP_TIMEOUT_MS} ms waiting for ${what}`));
      }, STEP_TIMEOUT_MS);
      this.#waiters.add(w);
    });
  }
}

/** An IMEI as it is typed and pasted: its 15 digits, in one piece ("356938035643809"). */
export function showImei(imei: string): string {
  return imei;
}

const short = (b: Uint8Array | string): string => (typeof b === "string" ? b : toHex(b)).slice(0, 8);

function screenBox(text: string): string[] {
  const lines = text.split("\n");
  const width = Math.max(...lines.map((l) => l.length)) + 2;
  return [`.${"-".repeat(width)}.`, ...lines.map((l) => `| ${l.padEnd(width - 2)} |`), `'${"-".repeat(width)}'`];
}

interface DemoHandset {
  readonly name: string;
  readonly dir: string;
  readonly info: DeviceInfo;
  readonly platform: SimulatedHandset;
  agent?: Agent;
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const write = options.write ?? ((t: string) => void process.stdout.write(t));
  const tl = new Timeline(write);
  const signals = new Signals(() => tl.elapsed());
  const verbose = (who: string, level: LogLevel, event: string, fields?: LogFields) => {
    if (options.verbose) tl.more(`[${who}] ${level} ${event} ${JSON.stringify(fields ?? {})}`);
  };

  write("antitheft demo: remote lock, end to end, with everything in this process\n\n");
  const dir = await mkdtemp(join(tmpdir(), "antitheft-demo-"));
  let broker: EmbeddedBroker | undefined;
  let registry: Registry | undefined;
  const handsets: DemoHandset[] = [];
  try {
    // ---- keys, broker, registry ----------------------------------------------------------
    const oem = nodeSigner(generateEd25519().privateKey);
    const registryKey = signingKey(generateEd25519().privateKey);
    const module = options.module ?? (await TrustedApp.compile());
    tl.step("setup", `OEM factory key (kid ${short(kidOfPublic(oem.publicKey))}..), registry command key (kid ${short(registryKey.kid)}..), Trusted App compiled`);

    broker = await startEmbeddedBroker();
    tl.step("broker", `embedded MQTT broker (aedes, MQTT 3.1.1) listening on ${broker.url}`);

    // The registry's own log events make its timeline lines, printed the moment they happen.
    const confirmed = new Set<string>();
    const nameOf = (f: LogFields): string | undefined => handsets.find((h) => h.info.did === f.did || h.info.imei === f.imei)?.name;
    const registryLog: Logger = {
      log(level, event, fields = {}) {
        const name = nameOf(fields);
        if (event === "device.enrolled" && name) {
          tl.step("registry", `${name} enrolled (IMEI ${showImei(handsets.find((h) => h.name === name)!.info.imei)}): OEM endorsement and attestation verified`);
        } else if (event === "request.accepted" && name) {
          if (fields.type === "claim") tl.step("registry", `claim accepted: ${name} belongs to alice`);
          if (fields.type === "report-stolen") tl.step("registry", `${name} flagged stolen; lock command signed with the registry key and published`);
          if (fields.type === "found") tl.step("registry", `stolen flag cleared; unlock command signed and published`);
        } else if (event === "command.result" && name && fields.status === "SUCCEEDED" && !confirmed.has(`${name}#${fields.seq}`)) {
          // A duplicate delivery (command and desired) may bring a second result: print the first.
          confirmed.add(`${name}#${fields.seq}`);
          const what = fields.code === 2 ? "lock: result SUCCEEDED, LwM2M code 2 (full lock OK)" : fields.code === 3 ? "unlock: result SUCCEEDED, LwM2M code 3 (unlock OK)" : `command: code ${fields.code}`;
          tl.step("registry", `${name} confirmed the ${what}, proof signed by the device key`);
        }
        signals.emit(`registry:${event}`, fields);
        verbose("registry", level, event, fields);
      },
    };
    registry = new Registry({
      db: join(dir, "registry.sqlite"),
      registryKey,
      oemRoots: [oem.publicKey],
      mqtt: { url: broker.url, name: "demo" },
      http: { host: "127.0.0.1", port: options.port ?? 0 },
      log: registryLog,
    });
    await registry.start();
    const http = new RegistryClient(registry.httpUrl!);
    tl.step("registry", `started: SQLite ${join(dir, "registry.sqlite")}, HTTP ${registry.httpUrl}, pins the OEM root`);
    tl.more(`owner portal (passkeys) and public IMEI check: ${registry.portalUrl}`);

    // ---- factory ---------------------------------------------------------------------------
    /** Handsets whose agent has booted (the boot's own enforcement is not news). */
    const started = new Set<string>();
    for (let i = 1; i <= 3; i++) {
      const name = `handset-${i}`;
      const hdir = join(dir, name);
      const imei = imeiFromTacSnr(`35693803${String(564379 + i)}`);
      const info = await provisionFolder(hdir, module, { imei, oem, registryKeys: [registryKey.publicKey], model: "Demo Phone", issuer: "Demo OEM" });
      const platform = new SimulatedHandset((e) => onScreen(name, e));
      handsets.push({ name, dir: hdir, info, platform });
      tl.step("factory", `${name} provisioned: IMEI ${showImei(imei)}, device key ${short(info.did)}.. made inside its TA, endorsed by the OEM`);
    }

    function onScreen(name: string, e: EnforcementEvent): void {
      signals.emit(`screen:${name}`, { action: e.action });
      if (e.action === "lock") {
        tl.step(name, "LOCKED by its Trusted App; the lock screen reads:");
        for (const l of screenBox(lockScreenText(e.message, e.contact))) tl.more(l);
      } else if (e.action === "unlock") {
        if (started.has(name)) tl.step(name, "unlocked: the owner can use the phone again");
      } else {
        tl.step(name, `shows a message: ${e.message}`);
      }
    }

    // ---- agents and enrolment ----------------------------------------------------------------
    const firstBoot = tl.elapsed();
    for (const h of handsets) {
      const agentLog: Logger = {
        log(level, event, fields = {}) {
          if (event === "command.accepted") tl.step(h.name, `its Trusted App verified command #${fields.seq} (registry signature, this device, fresh sequence) and sealed the new state`);
          if (event === "command.rejected") tl.step(h.name, `its Trusted App refused command #${fields.seq} (error ${fields.code})`);
          signals.emit(`${h.name}:${event}`, fields);
          verbose(h.name, level, event, fields);
        },
      };
      h.agent = await Agent.start({
        folder: DeviceFolder.at(h.dir),
        module,
        transport: mqttTransport(broker.url),
        enforcer: h.platform,
        logger: agentLog,
      });
      started.add(h.name);
      tl.step(h.name, `agent booted its TA, enforced its state (${h.platform.locked ? "locked" : "unlocked"}), connects to the broker`);
    }
    const enrolledAt = await Promise.all(handsets.map((h) => signals.wait("registry:device.enrolled", `${h.name}'s enrolment`, (f) => f.did === h.info.did)));
    const enrolMs = Math.max(...enrolledAt) - firstBoot;

    const statuses: string[] = [];
    const target = handsets[1]!;
    const eir = async (): Promise<string> => {
      const a = await http.equipmentStatus(`imei-${target.info.imei}`);
      const s = a.status === 200 ? String(a.body.status) : `HTTP ${a.status}`;
      statuses.push(s);
      tl.step("network", `equipment status of IMEI ${showImei(target.info.imei)} (TS 29.511 N5g-eir): ${s}`);
      return s;
    };
    await eir();

    // ---- the owner claims handset-2 ------------------------------------------------------------
    const alice = signingKey(generateEd25519().privateKey);
    const send = async (r: RequestInput) => {
      const a = await http.send(buildRequest(alice.signer, r, registryKey.kid));
      if (a.status !== 200 || a.body.ok !== true) throw new DemoError(`${r.type} refused: HTTP ${a.status} ${JSON.stringify(a.body)}`);
      return a.body as { status: string; commands: { seq: number; action: string }[]; code?: string };
    };
    const { code } = await send({ type: "claim-code", imei: target.info.imei, key: alice.coseKey });
    tl.step("owner", `alice asks the registry for a claim code for ${target.name} (kid ${short(alice.kid)}..): ${code} (single use, 10 minutes)`);
    // She types it on her new phone: a local action, the only way the TA signs a registration token.
    const session = await DeviceSession.boot(DeviceFolder.at(target.dir), module, { commit: false });
    const proof = session.claimProof(code!);
    tl.step("owner", `alice claims ${target.name} with the code and the proof her phone signed for it`);
    await send({ type: "claim", imei: target.info.imei, key: alice.coseKey, code: code!, proof });

    // ---- stolen ---------------------------------------------------------------------------------
    const reportAt = tl.step("owner", `alice reports ${target.name} stolen: "${DEMO_MESSAGE}", contact ${DEMO_CONTACT}`);
    await send({ type: "report-stolen", imei: target.info.imei, message: DEMO_MESSAGE, contact: DEMO_CONTACT });
    const lockedAt = await signals.wait(`screen:${target.name}`, "the lock", (f) => f.action === "lock", reportAt);
    const lockConfirmedAt = await signals.wait("registry:command.result", "the lock result", (f) => f.did === target.info.did && f.status === "SUCCEEDED" && f.code === 2, reportAt);
    await eir();

    // ---- found ----------------------------------------------------------------------------------
    const foundAt = tl.step("owner", `alice reports ${target.name} found`);
    await send({ type: "found", imei: target.info.imei });
    const unlockedAt = await signals.wait(`screen:${target.name}`, "the unlock", (f) => f.action === "unlock", foundAt);
    const unlockConfirmedAt = await signals.wait("registry:command.result", "the unlock result", (f) => f.did === target.info.did && f.status === "SUCCEEDED" && f.code === 3, foundAt);
    await eir();

    const others = handsets.filter((h) => h !== target);
    const othersOk = others.every((h) => !h.platform.locked);

    if (options.serveUntil) {
      // docs/PORTAL.md §7: the demo's handsets stay up for the portal.
      const portal = registry.portalUrl!;
      write(
        [
          "",
          `The owner portal is running at ${portal}`,
          `  Sign up with a passkey, then claim ${others.map((h) => `${h.name} (IMEI ${h.info.imei})`).join(" or ")}.`,
          "  To type the claim code the page shows on a handset:",
          ...others.map((h) => `    antitheft device claim-proof --dir ${h.dir} --code CODE --registry ${new URL(portal).origin}`),
          `  Report it stolen and watch it lock; anyone can check an IMEI at ${portal}check`,
          "  Ctrl-C stops the demo and removes its temp folder.",
          "",
        ].join("\n"),
      );
      await options.serveUntil;
      write("stopping\n");
    }

    // ---- shut down ------------------------------------------------------------------------------
    for (const h of handsets) {
      await h.agent?.stop(true);
      h.agent = undefined;
    }
    await registry.stop();
    registry = undefined;
    await broker.stop();
    broker = undefined;
    await rm(dir, { recursive: true, force: true });
    const totalMs = tl.elapsed();
    tl.step("done", "agents, registry and broker stopped; temp folder removed");

    const ms = (x: number) => `${Math.round(x)} ms`;
    write(
      [
        "",
        "Summary",
        `  handsets      3 factory-provisioned, booted and enrolled in ${ms(enrolMs)} (OEM-endorsed keys, attested over MQTT)`,
        `  theft         report -> ${target.name} locked in ${ms(lockedAt - reportAt)}; confirmed at the registry in ${ms(lockConfirmedAt - reportAt)}`,
        `  recovery      found -> ${target.name} unlocked in ${ms(unlockedAt - foundAt)}; confirmed in ${ms(unlockConfirmedAt - foundAt)}`,
        `  network       IMEI ${showImei(target.info.imei)}: ${statuses.join(" -> ")}`,
        `  other phones  ${others.map((h) => h.name).join(", ")}: ${othersOk ? "never locked" : "LOCKED (unexpected)"}`,
        `  total         ${ms(totalMs)}; temp folder ${dir} removed`,
        ...(options.serveUntil ? [] : ["  portal        `antitheft demo --serve` keeps the owner portal and the handsets running for you to try"]),
        "",
      ].join("\n"),
    );
    return {
      totalMs,
      enrolMs,
      lockMs: lockedAt - reportAt,
      lockConfirmedMs: lockConfirmedAt - reportAt,
      unlockMs: unlockedAt - foundAt,
      unlockConfirmedMs: unlockConfirmedAt - foundAt,
      statuses,
    };
  } finally {
    for (const h of handsets) await h.agent?.stop(false).catch(() => undefined);
    await registry?.stop().catch(() => undefined);
    await broker?.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
