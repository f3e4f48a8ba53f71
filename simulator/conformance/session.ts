// One scenario's run: the target, the observer, the handsets it made (powered off afterwards),
// the steps it took (for the report), its measurements, and the checks. A failed check throws
// ConformanceFailure naming the requirement it violates; waits poll with a timeout and fail the
// same way (a wait is never a timing assertion: its timeout only bounds how long "never" is).
import { randomInt } from "node:crypto";
import { generateEd25519, imeiFromTacSnr, type Signer } from "../../attestation/index.js";
import { RegistryClient } from "../../registry/client.js";
import { signingKey, type SigningKey } from "../../registry/keys.js";
import type { Observer } from "./observer.js";
import type { Fleet, Handset, HandsetDriver, Target } from "./target.js";
import { driverFleet } from "../fleet.js";

export class ConformanceFailure extends Error {
  constructor(
    readonly req: string,
    message: string,
  ) {
    super(`${req}: ${message}`);
    this.name = "ConformanceFailure";
  }
}

/** IMEIs unique to one run (a random TAC), so runs against a long-lived registry never collide. */
export class ImeiSource {
  readonly tac: string;
  #serial = 0;
  constructor(tac?: string) {
    this.tac = tac ?? `35${String(randomInt(0, 1_000_000)).padStart(6, "0")}`;
    if (!/^[0-9]{8}$/.test(this.tac)) throw new RangeError("a TAC is 8 digits");
  }
  next(): string {
    const snr = this.#serial++;
    if (snr > 999_999) throw new RangeError("this run has used every serial number of its TAC");
    return imeiFromTacSnr(this.tac + String(snr).padStart(6, "0"));
  }
}

export interface SessionOptions {
  readonly target: Target;
  readonly observer: Observer;
  readonly imeis: ImeiSource;
  /** Longest wait for anything the protocol promises "soon" (default 5000 ms). */
  readonly timeoutMs?: number;
  /** Handsets in a mass block (default 20). */
  readonly fleetSize?: number;
  /** Another driver for this scenario's handsets (negative controls). */
  readonly driver?: HandsetDriver;
  /** Live progress of long steps (mass block). */
  readonly progress?: (done: number, total: number, label: string) => void;
}

export interface NewHandset {
  readonly imei?: string;
  /** A second IMEI (a dual-SIM handset), endorsed and attested with the first. */
  readonly imei2?: string;
  readonly measurement?: Uint8Array;
  readonly model?: string;
  readonly driver?: HandsetDriver;
  /** Another OEM key (default: the target's). */
  readonly oem?: Signer;
}

export class Session {
  readonly target: Target;
  readonly observer: Observer;
  readonly timeoutMs: number;
  readonly fleetSize: number;
  readonly driver: HandsetDriver;
  readonly steps: string[] = [];
  readonly metrics: Record<string, number[]> = {};
  readonly handsets: Handset[] = [];
  readonly fleets: Fleet[] = [];
  readonly #o: SessionOptions;
  readonly #t0 = performance.now();

  constructor(o: SessionOptions) {
    this.#o = o;
    this.target = o.target;
    this.observer = o.observer;
    this.timeoutMs = o.timeoutMs ?? 5000;
    this.fleetSize = o.fleetSize ?? 20;
    this.driver = o.driver ?? o.target.driver;
  }

  /** A client for the registry's HTTP interface (its URL may change across restarts). */
  get http(): RegistryClient {
    return new RegistryClient(this.target.registryUrl());
  }

  nextImei(): string {
    return this.#o.imeis.next();
  }

  /** A new handset from the factory (powered off), endorsed by the target's OEM. */
  async handset(n: NewHandset = {}): Promise<Handset> {
    const driver = n.driver ?? this.driver;
    const measurement = n.measurement ?? this.target.acceptedMeasurement;
    const h = await driver.provision({
      imei: n.imei ?? this.nextImei(),
      ...(n.imei2 !== undefined ? { imei2: n.imei2 } : {}),
      model: n.model ?? "Conformance Phone",
      oem: n.oem ?? this.target.oem,
      registryKeys: [this.target.registryPublic],
      ...(measurement ? { measurement } : {}),
    });
    this.handsets.push(h);
    return h;
  }

  /**
   * `n` new handsets for load, powered off: the target's fleet factory (e.g. worker threads)
   * or, when this scenario has its own driver, that driver's handsets.
   */
  async fleet(n: number): Promise<Fleet> {
    const imeis = Array.from({ length: n }, () => this.nextImei());
    const m = this.target.acceptedMeasurement;
    const spec = { model: "Conformance Phone", oem: this.target.oem, registryKeys: [this.target.registryPublic], ...(m ? { measurement: m } : {}) };
    const f = this.target.fleet && !this.#o.driver ? await this.target.fleet(imeis, spec) : await driverFleet(this.driver, imeis, spec);
    this.fleets.push(f);
    return f;
  }

  /** A fresh owner key. */
  owner(): SigningKey {
    return signingKey(generateEd25519().privateKey);
  }

  progress(done: number, total: number, label: string): void {
    this.#o.progress?.(done, total, label);
  }

  /** Records a step for the report ("+  12 ms  owner reports the phone stolen"). */
  step(text: string): void {
    this.steps.push(`+${String(Math.round(performance.now() - this.#t0)).padStart(6)} ms  ${text}`);
  }

  metric(name: string, value: number): void {
    (this.metrics[name] ??= []).push(value);
  }

  fail(req: string, message: string): never {
    throw new ConformanceFailure(req, message);
  }

  check(req: string, ok: unknown, message: string): void {
    if (!ok) this.fail(req, message);
  }

  /**
   * Polls `probe` every 10 ms until it returns something other than undefined/false; fails `req`
   * with `what` (and the last value `describe` gives) after `timeoutMs`.
   */
  async waitFor<T>(req: string, what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = this.timeoutMs, describe?: () => string | Promise<string>): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      if (performance.now() > deadline) {
        const last = describe ? ` (last: ${await describe()})` : "";
        this.fail(req, `${what}: not within ${timeoutMs} ms${last}`);
      }
      await sleep(10);
    }
  }

  /** Powers off every handset this scenario made. */
  async cleanup(): Promise<void> {
    await Promise.allSettled([...this.handsets.map((h) => h.powerOff(false)), ...this.fleets.map((f) => f.close())]);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
