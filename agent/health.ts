// The agent's health, reported locally: the running agent rewrites `health.json` in its handset
// folder (atomically: temp file + rename) at start, every few seconds and at stop, and
// `antitheft device health` reads it together with the folder lock (folder-lock.ts) to tell
// whether an agent runs on the folder, whether it is connected to the broker and what the TA
// enforces. A supervisor (systemd, a container HEALTHCHECK) runs that command.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ownerAlive, readLockOwner } from "./folder-lock.js";

export const HEALTH_FILE = "health.json";

export interface AgentHealth {
  readonly pid: number;
  readonly did: string;
  /** "running" while the agent runs, "stopped" after a clean stop. */
  readonly state: "running" | "stopped";
  readonly connected: boolean;
  /** The TA's lock state: 0 unlocked, 1 partially, 2 locked. */
  readonly lock: number;
  readonly tampered: boolean;
  readonly seq: number;
  readonly broker: string;
  /** When this snapshot was written (ISO 8601). */
  readonly at: string;
}

export function writeHealth(dir: string, h: AgentHealth): void {
  const path = join(dir, HEALTH_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(h) + "\n");
  renameSync(tmp, path);
}

export interface HealthReport {
  /** An agent holds the folder's lock and runs. */
  readonly running: boolean;
  /** Running and connected to its broker. */
  readonly healthy: boolean;
  readonly health?: AgentHealth;
  readonly reason: string;
}

/** A running agent rewrites health.json every 2 s; a snapshot older than this means it is stuck. */
export const HEALTH_STALE_MS = 15_000;

/** What `antitheft device health` reports for a folder (`now` injected for tests). */
export function checkHealth(dir: string, now: () => number = Date.now): HealthReport {
  const owner = readLockOwner(dir);
  const running = owner !== undefined && ownerAlive(owner);
  let health: AgentHealth | undefined;
  try {
    health = JSON.parse(readFileSync(join(dir, HEALTH_FILE), "utf8")) as AgentHealth;
  } catch {
    health = undefined;
  }
  if (!running) return { running, healthy: false, ...(health ? { health } : {}), reason: owner ? `no agent runs (the lock of pid ${owner.pid} is stale)` : "no agent runs on this folder" };
  if (!health || health.pid !== owner.pid) return { running, healthy: false, reason: `agent pid ${owner.pid} has not reported its health yet` };
  const age = now() - Date.parse(health.at);
  if (!(age <= HEALTH_STALE_MS)) return { running, healthy: false, health, reason: `agent pid ${owner.pid} has not reported its health since ${health.at} (stuck?)` };
  if (!health.connected) return { running, healthy: false, health, reason: `agent pid ${owner.pid} is not connected to ${health.broker}` };
  return { running, healthy: true, health, reason: `agent pid ${owner.pid} is connected to ${health.broker}` };
}
