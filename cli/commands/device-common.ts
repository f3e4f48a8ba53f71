// Helpers shared by the handset-side commands (oem, factory, device, verify, agent): strict flag
// parsing, hex and file arguments, loading the TA, and mapping library errors to CLI errors.
import { readFile } from "node:fs/promises";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { CliError } from "../command.js";
import { isValidImei } from "../../attestation/imei.js";
import { DeviceFolderError } from "../../agent/device-folder.js";
import { TaError } from "../../agent/ta-errors.js";
import { DEFAULT_TA_URL, TrustedApp } from "../../agent/trusted-app.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** node:util parseArgs, strict; any problem is E_USAGE (exit 2) with the usage text. */
export function parseFlags<O extends Options>(argv: string[], options: O, usage: string) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new CliError("E_USAGE", `${(e as Error).message}\n\n${usage}`, 2);
  }
}

/** A flag that must be present (E_USAGE otherwise). */
export function required<T>(value: T | undefined, flag: string, usage: string): T {
  if (value === undefined || value === "") throw new CliError("E_USAGE", `--${flag} is required\n\n${usage}`, 2);
  return value;
}

/**
 * An IMEI flag: 15 digits with a valid check digit (TS 23.003 Annex B). Every command refuses a
 * bad one the same way: E_USAGE, exit 2, naming the flag.
 */
export function imeiFlag(value: string, flag = "imei"): string {
  if (!isValidImei(value)) throw new CliError("E_USAGE", `--${flag} must be 15 digits with a valid check digit (TS 23.003 Annex B), got "${value}"`, 2);
  return value;
}

/** Strict hex (even length, [0-9a-fA-F]); an optional byte-length range. */
export function hexArg(value: string, flag: string, min = 0, max = Infinity): Uint8Array {
  if (value.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(value)) throw new CliError("E_USAGE", `--${flag} must be hexadecimal (an even number of 0-9a-f)`, 2);
  const b = new Uint8Array(Buffer.from(value, "hex"));
  if (b.length < min || b.length > max) throw new CliError("E_USAGE", `--${flag} must be ${min}..${max} bytes, got ${b.length}`, 2);
  return b;
}

export async function readTextFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    throw new CliError("E_FILE", `cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

export async function readBinaryFile(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new CliError("E_FILE", `cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

/** The compiled release TA (build/ta.wasm), or E_NO_TA. */
export async function loadTaModule(): Promise<WebAssembly.Module> {
  try {
    return await TrustedApp.compile(DEFAULT_TA_URL);
  } catch (e) {
    throw new CliError("E_NO_TA", `cannot load the Trusted App ${DEFAULT_TA_URL.pathname}: ${(e as Error).message} (run npm run build)`);
  }
}

/** Runs `f`, turning TA and device-folder errors into CLI errors with their stable codes. */
export async function withDeviceErrors<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof TaError) throw new CliError(e.name === "ERR_UNKNOWN" ? `ERR_TA_${-e.code}` : e.name, e.message);
    if (e instanceof DeviceFolderError) throw new CliError(e.code, e.message.replace(/^E_[A-Z_]+: /, ""));
    // AttestationError, StorageError, EnforcementError...: a string code, message "CODE: text".
    const err = e as { code?: unknown; message?: unknown };
    if (!(e instanceof CliError) && typeof err.code === "string" && /^E_[A-Z0-9_]+$/.test(err.code)) {
      throw new CliError(err.code, String(err.message ?? "").replace(`${err.code}: `, ""));
    }
    throw e;
  }
}

/** JSON for stdout: two-space indent and a final newline. */
export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + "\n");
}
