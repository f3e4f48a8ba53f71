// What built this tool: the package version (package.json) and, when run from a git checkout,
// the commit. Reports (conformance, audit) and `antitheft --version` carry both.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The package root: dist/cli/version.js -> ../.. */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

let cached: { version: string; commit: string | null } | undefined;

/** {version, commit}: commit is null outside a git checkout or without git. */
export function toolVersion(): { readonly version: string; readonly commit: string | null } {
  if (cached) return cached;
  let version = "unknown";
  try {
    version = String((JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as { version?: unknown }).version ?? "unknown");
  } catch {
    // a copy without package.json: the version stays "unknown"
  }
  let commit: string | null = null;
  if (existsSync(`${ROOT}.git`)) {
    const r = spawnSync("git", ["-C", ROOT, "rev-parse", "HEAD"], { encoding: "utf8", timeout: 5000 });
    if (r.status === 0 && /^[0-9a-f]{40}$/.test(r.stdout.trim())) commit = r.stdout.trim();
  }
  cached = { version, commit };
  return cached;
}

/** "antitheft 0.1.0 (commit abc123...)" */
export function versionLine(): string {
  const v = toolVersion();
  return `antitheft ${v.version}${v.commit ? ` (commit ${v.commit})` : ""}`;
}
