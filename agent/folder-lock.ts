// One agent per handset folder. Two agents on one folder would each boot the TA, fight over the
// broker's client id (at-d-<did>) and interleave commits of the sealed state, so the registry
// sees counters go backwards and greylists the genuine phone. The agent therefore holds an
// exclusive lock on its folder for as long as it runs: the file `agent.lock`, created with
// O_CREAT|O_EXCL (atomic on POSIX file systems), holding the owner's pid, its start time and host.
// A lock left behind by an agent killed with SIGKILL (or a power cut) is stale and is taken over:
// it is stale when its pid no longer runs, or runs but is another process (the pid was reused:
// its start time in /proc/<pid>/stat, field 22, differs from the recorded one).
import { closeSync, openSync, readFileSync, unlinkSync, writeSync, fsyncSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";

export const LOCK_FILE = "agent.lock";

export interface LockOwner {
  readonly pid: number;
  /** Process start time (clock ticks since boot, /proc/<pid>/stat field 22); null off Linux. */
  readonly start: string | null;
  readonly host: string;
  /** When the lock was taken (ISO 8601). */
  readonly since: string;
}

export type FolderLockErrorCode = "E_LOCKED" | "E_LOCK_IO";

export class FolderLockError extends Error {
  constructor(readonly code: FolderLockErrorCode, message: string, readonly owner?: LockOwner) {
    super(message);
    this.name = "FolderLockError";
  }
}

/** /proc/<pid>/stat field 22 (starttime), or null when /proc cannot tell. */
export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2 (comm) is in parentheses and may contain spaces: count from the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null; // fields[0] is field 3 (state), so field 22 is fields[19]
  } catch {
    return null;
  }
}

/** True when `pid` runs (signal 0: EPERM still means it exists). */
function pidRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether the recorded owner still holds the lock (on this host; another host's lock is trusted). */
export function ownerAlive(o: LockOwner): boolean {
  if (o.host !== hostname()) return true; // a shared folder: we cannot see the other host's processes
  if (!pidRuns(o.pid)) return false;
  const now = processStart(o.pid);
  return o.start === null || now === null || now === o.start;
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    if (typeof o.pid !== "number" || !Number.isInteger(o.pid) || o.pid <= 0) return undefined;
    return { pid: o.pid, start: typeof o.start === "string" ? o.start : null, host: typeof o.host === "string" ? o.host : hostname(), since: typeof o.since === "string" ? o.since : "?" };
  } catch {
    return undefined;
  }
}

/** The lock's current owner, if any (alive or not). */
export function readLockOwner(dir: string): LockOwner | undefined {
  try {
    return parseOwner(readFileSync(join(dir, LOCK_FILE), "utf8"));
  } catch {
    return undefined;
  }
}

export class FolderLock {
  #released = false;
  private constructor(readonly path: string, readonly owner: LockOwner) {}

  /**
   * Takes the folder's lock for this process, or throws FolderLockError E_LOCKED naming the
   * running agent. A stale lock (see the header) is removed and taken; so is an unreadable one
   * (a crash while it was being written).
   */
  static acquire(dir: string, now: () => Date = () => new Date()): FolderLock {
    const path = join(dir, LOCK_FILE);
    const me: LockOwner = { pid: process.pid, start: processStart(process.pid), host: hostname(), since: now().toISOString() };
    for (let attempt = 0; attempt < 3; attempt++) {
      let fd: number;
      try {
        fd = openSync(path, "wx", 0o644);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw new FolderLockError("E_LOCK_IO", `cannot create ${path}: ${(e as Error).message}`);
        let text = "";
        try {
          text = readFileSync(path, "utf8");
        } catch {
          continue; // removed meanwhile: try again
        }
        const owner = parseOwner(text);
        if (owner && ownerAlive(owner)) {
          throw new FolderLockError("E_LOCKED", `the handset folder ${dir} is in use by another agent (pid ${owner.pid} on ${owner.host}, since ${owner.since}); stop it first - one agent per handset`, owner);
        }
        // Stale (its agent is gone) or half-written: remove it, unless someone replaced it meanwhile.
        try {
          if (readFileSync(path, "utf8") === text) unlinkSync(path);
        } catch {
          // gone already
        }
        continue;
      }
      try {
        writeSync(fd, JSON.stringify(me) + "\n");
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return new FolderLock(path, me);
    }
    throw new FolderLockError("E_LOCKED", `could not take the lock ${path}: other processes keep replacing it`);
  }

  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    const o = readLockOwner(dirname(this.path));
    if (o && o.pid === this.owner.pid && o.start === this.owner.start) {
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
    }
  }
}
