// Enforcement: how the agent makes the platform match the TA's lock state. The TA decides; an
// Enforcer only carries the decision out (LwM2M Object 8 "Lock and Wipe": res 0 state, OMA DM
// LAWMO FullyLock / UnLock). Two implementations: SimulatedHandset (state and screen text, for
// tests, the demo and fleets) and CommandEnforcer (runs commands an OEM configures, so the agent
// maps onto any platform without code changes).
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";

export interface Enforcer {
  /** Fully locks the handset, showing `message` and `contact` on the lock screen. */
  lock(message: string, contact: string): Promise<void>;
  /** Unlocks the handset. */
  unlock(): Promise<void>;
  /** Shows a message (PROTOCOL §5 action 3) without changing the lock state. */
  showMessage(message: string, contact: string): Promise<void>;
}

/** The lock state as the TA reports it (LwM2M Object 8 res 0, plus TAMPERED). */
export interface LockView {
  /** 0 unlocked, 1 partially locked, 2 fully locked. */
  readonly lock: number;
  /** A TAMPERED TA counts as locked (docs/ATTESTATION.md). */
  readonly tampered: boolean;
  readonly message: string;
  readonly contact: string;
}

/** True when the handset must be locked: any lock state above 0, or a TAMPERED TA. */
export function mustLock(view: LockView): boolean {
  return view.tampered || view.lock !== 0;
}

/** Text shown on a TAMPERED handset: its sealed state cannot be trusted, so neither can its message. */
export const TAMPERED_MESSAGE = "This device failed its integrity check and is locked.";

/** Makes the platform match `view`. Returns what was done. */
export async function enforce(enforcer: Enforcer, view: LockView): Promise<"locked" | "unlocked"> {
  if (mustLock(view)) {
    await enforcer.lock(view.tampered ? TAMPERED_MESSAGE : view.message, view.tampered ? "" : view.contact);
    return "locked";
  }
  await enforcer.unlock();
  return "unlocked";
}

export type EnforcementErrorCode = "E_ENFORCER_CONFIG" | "E_ENFORCE_FAILED";

export class EnforcementError extends Error {
  constructor(
    readonly code: EnforcementErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
    this.name = "EnforcementError";
  }
}

export interface EnforcementEvent {
  readonly action: "lock" | "unlock" | "message";
  readonly message: string;
  readonly contact: string;
}

/**
 * A simulated handset: records its lock state and the text on its screen. `onEvent` sees every
 * action as it happens (tests use it to check ordering against network traffic).
 */
export class SimulatedHandset implements Enforcer {
  locked = false;
  screen = "";
  /** The last few actions, oldest first (bounded, so a long-running fleet stays small). */
  readonly history: EnforcementEvent[] = [];
  #fail: string | undefined;

  constructor(
    readonly onEvent?: (event: EnforcementEvent) => void,
    readonly historyLimit = 16,
  ) {}

  /** Makes every following action fail (a broken platform), or heal with undefined. */
  failWith(reason: string | undefined): void {
    this.#fail = reason;
  }

  async lock(message: string, contact: string): Promise<void> {
    this.#check();
    this.locked = true;
    this.screen = lockScreenText(message, contact);
    this.#record({ action: "lock", message, contact });
  }

  async unlock(): Promise<void> {
    this.#check();
    this.locked = false;
    this.screen = "";
    this.#record({ action: "unlock", message: "", contact: "" });
  }

  async showMessage(message: string, contact: string): Promise<void> {
    this.#check();
    if (!this.locked) this.screen = lockScreenText(message, contact).replace(/^LOCKED\n/, "");
    this.#record({ action: "message", message, contact });
  }

  #check(): void {
    if (this.#fail !== undefined) throw new EnforcementError("E_ENFORCE_FAILED", this.#fail);
  }

  #record(e: EnforcementEvent): void {
    this.history.push(e);
    if (this.history.length > this.historyLimit) this.history.shift();
    this.onEvent?.(e);
  }
}

/** The lock screen as text: a title line, the message, the contact. */
export function lockScreenText(message: string, contact: string): string {
  const lines = ["LOCKED"];
  if (message) lines.push(message);
  if (contact) lines.push(`Contact: ${contact}`);
  return lines.join("\n");
}

/**
 * One configured action. An array is run directly (no shell); "{message}" and "{contact}" inside
 * its arguments are replaced by the values. A string is run by /bin/sh -c and receives the values
 * only as environment variables ANTITHEFT_MESSAGE / ANTITHEFT_CONTACT, never spliced into the
 * script, so a lock message cannot inject shell syntax.
 */
export type CommandSpec = string | readonly string[];

/** The JSON file `antitheft agent --enforcer-config FILE` reads. */
export interface CommandEnforcerConfig {
  readonly lock: CommandSpec;
  readonly unlock: CommandSpec;
  /** Optional: without it a message-only command changes nothing on screen. */
  readonly showMessage?: CommandSpec;
  /** Kill an action after this many ms (default 10 000). */
  readonly timeoutMs?: number;
}

export type CommandRunner = (file: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number) => Promise<void>;

const defaultRunner: CommandRunner = (file, args, env, timeoutMs) =>
  new Promise((resolve, reject) => {
    execFile(file, [...args], { env, timeout: timeoutMs, maxBuffer: 64 * 1024 }, (err, _stdout, stderr) => {
      if (err) reject(new EnforcementError("E_ENFORCE_FAILED", `${file} failed: ${err.message.trim()}${stderr ? ` (${String(stderr).trim().slice(0, 200)})` : ""}`, { cause: err }));
      else resolve();
    });
  });

export class CommandEnforcer implements Enforcer {
  readonly config: CommandEnforcerConfig;
  readonly #run: CommandRunner;

  constructor(config: unknown, runner: CommandRunner = defaultRunner) {
    this.config = parseConfig(config);
    this.#run = runner;
  }

  /** Reads and validates a JSON configuration file. */
  static async fromFile(path: string, runner?: CommandRunner): Promise<CommandEnforcer> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (e) {
      throw new EnforcementError("E_ENFORCER_CONFIG", `cannot read ${path}`, { cause: e });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new EnforcementError("E_ENFORCER_CONFIG", `${path} is not JSON`, { cause: e });
    }
    return new CommandEnforcer(json, runner);
  }

  lock(message: string, contact: string): Promise<void> {
    return this.#exec("lock", this.config.lock, message, contact);
  }

  unlock(): Promise<void> {
    return this.#exec("unlock", this.config.unlock, "", "");
  }

  async showMessage(message: string, contact: string): Promise<void> {
    if (this.config.showMessage !== undefined) await this.#exec("message", this.config.showMessage, message, contact);
  }

  #exec(action: string, spec: CommandSpec, message: string, contact: string): Promise<void> {
    const env = { ...process.env, ANTITHEFT_ACTION: action, ANTITHEFT_MESSAGE: message, ANTITHEFT_CONTACT: contact };
    const timeout = this.config.timeoutMs ?? 10_000;
    if (typeof spec === "string") return this.#run("/bin/sh", ["-c", spec], env, timeout);
    const [file, ...args] = spec;
    const sub = (a: string) => a.replaceAll("{message}", message).replaceAll("{contact}", contact);
    return this.#run(file!, args.map(sub), env, timeout);
  }
}

function parseConfig(v: unknown): CommandEnforcerConfig {
  const bad = (why: string): never => {
    throw new EnforcementError("E_ENFORCER_CONFIG", why);
  };
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad("the enforcer configuration must be a JSON object");
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!["lock", "unlock", "showMessage", "timeoutMs"].includes(k)) bad(`unknown key "${k}" (allowed: lock, unlock, showMessage, timeoutMs)`);
  const spec = (k: string, required: boolean): CommandSpec | undefined => {
    const s = o[k];
    if (s === undefined) return required ? bad(`"${k}" is required`) : undefined;
    if (typeof s === "string" && s.trim() !== "") return s;
    if (Array.isArray(s) && s.length > 0 && s.every((a) => typeof a === "string") && s[0] !== "") return s as string[];
    return bad(`"${k}" must be a shell command string or a non-empty array [program, ...args]`);
  };
  const timeoutMs = o.timeoutMs;
  if (timeoutMs !== undefined && (typeof timeoutMs !== "number" || !Number.isInteger(timeoutMs) || timeoutMs <= 0)) bad(`"timeoutMs" must be a positive integer`);
  return { lock: spec("lock", true)!, unlock: spec("unlock", true)!, showMessage: spec("showMessage", false), timeoutMs: timeoutMs as number | undefined };
}
