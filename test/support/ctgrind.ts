// The constant-time check (Monocypher's ctgrind idea, tests/ctgrind.c): run the TA's C build
// under valgrind memcheck with the secret input bytes marked undefined. Memcheck then reports
// every conditional jump and every memory address that depends on a secret; the driver
// declassifies the outputs before printing them. Zero errors = no secret-dependent branch or
// index on the path exercised. The marking is generic: any export, any byte range of its input.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hex, ROOT } from "./ta.js";
import { runCAsync, type CBuild } from "./wasm2c.js";

export const MEMCHECK = ["--tool=memcheck", "--error-exitcode=99", "--leak-check=no", "--num-callers=8"];

/** One call with the byte ranges of its input (offsets in the I/O buffer) that are secret. */
export interface SecretCall {
  name: string;
  args: readonly number[];
  input: Uint8Array;
  secret: readonly (readonly [offset: number, length: number])[];
}

export interface MemcheckResult {
  errors: number;
  status: number | null;
  stderr: string;
  lines: string[];
  /** The distinct memcheck error kinds reported, e.g. "Conditional jump or move depends on uninitialised value(s)". */
  kinds: string[];
  /** Errors hidden by a suppression file passed in `extra` (0 without one). */
  suppressed: number;
  /** name -> count of every suppression that matched (needs "-s" in `extra`). */
  usedSuppressions: Map<string, number>;
}

export function secretScript(calls: readonly SecretCall[]): string[] {
  const lines: string[] = [];
  for (const c of calls) {
    for (const [off, len] of c.secret) lines.push(`secret ${off} ${len}`);
    lines.push(["call", c.name, ...c.args.map(String), c.input.length ? hex(c.input) : "-"].join(" "));
  }
  return lines;
}

/**
 * Runs the calls in one valgrind process and counts memcheck's errors. `extra` valgrind options
 * (e.g. one narrowly scoped --suppressions file and -s) go after MEMCHECK.
 */
export async function memcheck(build: CBuild, calls: readonly SecretCall[], extra: readonly string[] = []): Promise<MemcheckResult> {
  const r = await runCAsync(build, secretScript(calls), [...MEMCHECK, ...extra]);
  const summary = /ERROR SUMMARY: (\d+) errors? from \d+ contexts? \(suppressed: (\d+) from \d+\)/.exec(r.stderr);
  if (!summary) throw new Error(`valgrind printed no error summary (status ${r.status}):\n${r.stderr.slice(-2000)}`);
  const kinds = [...new Set([...r.stderr.matchAll(/^==\d+== ((?:Conditional jump|Use of uninitialised|Syscall param|Invalid)[^\n]*)$/gm)].map((m) => m[1]!))];
  const usedSuppressions = new Map([...r.stderr.matchAll(/used_suppression:\s+(\d+) (\S+) /g)].map((m) => [m[2]!, Number(m[1])] as const));
  return { errors: Number(summary[1]), status: r.status, stderr: r.stderr, lines: r.lines, kinds, suppressed: Number(summary[2]), usedSuppressions };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? filesUnder(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/**
 * The negative control's wasm: the real TA sources plus test/ct/leak.ts as a second entry,
 * compiled with the release target's options from asconfig.json. Cached by the hash of its inputs.
 */
export function buildLeakWasm(): string {
  const dir = join(ROOT, "build", "c", "ctleak-wasm");
  mkdirSync(dir, { recursive: true });
  const out = join(dir, "ta.ctleak.wasm");
  const leak = join(ROOT, "test", "ct", "leak.ts");
  const config = JSON.parse(readFileSync(join(ROOT, "asconfig.json"), "utf8")) as {
    targets: { release: Record<string, unknown> };
    options: Record<string, unknown>;
  };
  const options = { ...config.options, ...config.targets.release };
  const flags: string[] = [];
  for (const [k, v] of Object.entries(options)) {
    if (["outFile", "textFile", "sourceMap", "debug", "bindings"].includes(k)) continue;
    if (v === true) flags.push(`--${k}`);
    else if (typeof v === "number" || typeof v === "string") flags.push(`--${k}`, String(v));
  }
  const hash = createHash("sha256");
  for (const f of [...filesUnder(join(ROOT, "assembly")).filter((f) => !f.includes("__tests__")).sort(), leak]) {
    hash.update(f).update(readFileSync(f));
  }
  const stamp = hash.update(flags.join(" ")).digest("hex");
  const stampFile = join(dir, "stamp");
  if (existsSync(out) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) return out;
  // cwd without an asconfig.json, so only the flags above apply
  const asc = join(ROOT, "node_modules", "assemblyscript", "bin", "asc.js");
  const r = spawnSync(process.execPath, [asc, join(ROOT, "assembly", "index.ts"), leak, "-o", out, ...flags], { cwd: dir, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`asc failed for the negative control build:\n${r.stderr}${r.stdout}`);
  writeFileSync(stampFile, stamp);
  return out;
}
