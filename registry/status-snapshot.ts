// The equipment-status snapshot of a SQLite registry (docs/STORAGE.md §4): the status of every
// registered IMEI in this process's memory, so a network's lookup (TS 29.511 §5.2.2.2, on every
// attach) costs a hash probe instead of three B-tree searches. Never stale for a flag:
// - Every write a status depends on appends the IMEIs it touches to the change feed
//   (status_changes, schema migration 6: triggers on bindings, flags and devices), in commit
//   order - SQLite has one writer at a time, and AUTOINCREMENT never reuses a seq.
// - Before every lookup the snapshot reads the database's generation: PRAGMA data_version
//   (changes when another connection - another registry worker on the file - commits) and this
//   connection's total_changes() (its own writes). When it moved, the feed rows after the last
//   applied seq are replayed (each IMEI's status recomputed from the tables) before answering.
//   So a lookup that starts after a commit, by any process on the file, answers from that commit.
// - The feed keeps its newest 100,000 rows; a snapshot whose next row is gone (it fell further
//   behind) rebuilds, answering from the tables meanwhile.
// Built lazily on the first lookup, page by page (BUILD_PAGE bindings per event-loop turn, about
// 15 ms), from the feed position read before the first page; lookups meanwhile answer from the
// tables; once the last page is in, the feed since that position is replayed, so a change made
// during the build is not lost. Memory: an open-addressing table of 9 bytes per slot, at most half
// full - about 18 MB per million IMEIs.
import { statusFrom, type EquipmentStatus } from "./status-rule.js";
import type { BoundDevice, StatusTable } from "./store/status.js";
import type { Db, Stmt } from "./store/util.js";

const BUILD_PAGE = 2_000;
const REPLAY_PAGE = 10_000;
const CODES: readonly (EquipmentStatus | undefined)[] = [undefined, "WHITELISTED", "BLACKLISTED", "GREYLISTED"];
const codeOf = (s: EquipmentStatus | undefined): number => (s === undefined ? 0 : CODES.indexOf(s));
const IMEI = /^[0-9]{15}$/;

/** IMEI -> status code, open addressing with linear probing; keys are the IMEI's value + 1 (0 = empty). */
class StatusTableMemory {
  keys: Float64Array;
  codes: Uint8Array;
  count = 0;

  constructor(capacity = 1024) {
    this.keys = new Float64Array(capacity);
    this.codes = new Uint8Array(capacity);
  }

  #slot(key: number): number {
    const mask = this.keys.length - 1;
    const lo = key >>> 0;
    const hi = (key / 4294967296) >>> 0;
    let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 15;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 13;
    let i = h & mask;
    while (this.keys[i] !== 0 && this.keys[i] !== key) i = (i + 1) & mask;
    return i;
  }

  get(key: number): number {
    return this.codes[this.#slot(key)]!;
  }

  set(key: number, code: number): void {
    const i = this.#slot(key);
    if (this.keys[i] === key) {
      this.codes[i] = code;
      return;
    }
    if (code === 0) return; // not known: nothing to keep
    this.keys[i] = key;
    this.codes[i] = code;
    if (++this.count * 2 > this.keys.length) this.#grow();
  }

  #grow(): void {
    const { keys, codes } = this;
    this.keys = new Float64Array(keys.length * 2);
    this.codes = new Uint8Array(keys.length * 2);
    this.count = 0;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== 0) this.set(keys[i]!, codes[i]!);
  }
}

export class StatusSnapshot {
  readonly #table: StatusTable;
  readonly #version: Stmt;
  readonly #changes: Stmt;
  #memory = new StatusTableMemory();
  #state: "empty" | "building" | "ready" | "stopped" = "empty";
  #applied = 0;
  #seenVersion = -1;
  #seenChanges = -1;
  #epoch = 0;
  /** Lookups answered from memory, and from the tables (during a build, or not an IMEI). */
  hits = 0;
  misses = 0;
  /** Builds finished, and the last build's failure (the snapshot then answers from the tables and retries). */
  builds = 0;
  lastError: Error | undefined;
  /** How long the last build took, first page to last (ms). */
  buildMs = 0;

  constructor(db: Db, table: StatusTable) {
    this.#table = table;
    this.#version = db.prepare("PRAGMA data_version").pluck();
    this.#changes = db.prepare("SELECT total_changes()").pluck();
  }

  /** True when lookups are answered from memory. */
  get ready(): boolean {
    return this.#state === "ready";
  }

  /** IMEIs with a status in memory. */
  get size(): number {
    return this.#memory.count;
  }

  get(imei: string): EquipmentStatus | undefined {
    if (this.#state !== "ready" || !IMEI.test(imei)) {
      if (this.#state === "empty") this.#build();
      this.misses++;
      return this.#compute(imei);
    }
    const version = this.#version.get() as number;
    const changes = this.#changes.get() as number;
    if (version !== this.#seenVersion || changes !== this.#seenChanges) {
      this.#seenVersion = version;
      this.#seenChanges = changes;
      if (!this.#replay()) {
        this.misses++;
        return this.#compute(imei);
      }
    }
    this.hits++;
    return CODES[this.#memory.get(Number(imei) + 1)];
  }

  /** Starts the build now rather than at the first lookup. */
  warm(): void {
    if (this.#state === "empty") this.#build();
  }

  /** Stops a build in progress (the store is closing). */
  stop(): void {
    this.#state = "stopped";
    this.#epoch++;
  }

  #compute(imei: string): EquipmentStatus | undefined {
    return statusFrom(this.#table.of(imei));
  }

  /** Applies the feed after the last applied seq; false when it fell behind the window (a rebuild has started). */
  #replay(): boolean {
    for (;;) {
      const rows = this.#table.changesSince(this.#applied, REPLAY_PAGE);
      if (rows.length === 0) return true;
      if (rows[0]!.seq !== this.#applied + 1) {
        this.#state = "empty";
        this.#build();
        return false;
      }
      for (const imei of new Set(rows.map((r) => r.imei))) this.#memory.set(Number(imei) + 1, codeOf(this.#compute(imei)));
      this.#applied = rows[rows.length - 1]!.seq;
      if (rows.length < REPLAY_PAGE) return true;
    }
  }

  #build(): void {
    const epoch = ++this.#epoch;
    this.#state = "building";
    const memory = new StatusTableMemory();
    let from: number;
    try {
      from = this.#table.head(); // before the first page: what changes after it is replayed
    } catch (e) {
      this.#fail(e);
      return;
    }
    let after = "";
    const t0 = performance.now();
    const step = (): void => {
      if (epoch !== this.#epoch) return;
      try {
        const rows = this.#table.page(after, BUILD_PAGE);
        const full = rows.length === BUILD_PAGE;
        // A full page may end inside the last IMEI's devices: that IMEI is read again next time,
        // unless it fills the page alone (then from its own query).
        const last = rows.length > 0 ? rows[rows.length - 1]!.imei : "";
        const keep = full && rows[0]!.imei !== last ? rows.filter((r) => r.imei !== last) : rows;
        if (full && keep === rows) {
          memory.set(Number(last) + 1, codeOf(this.#compute(last)));
          after = last;
        } else {
          let i = 0;
          while (i < keep.length) {
            const imei = keep[i]!.imei;
            const devices: BoundDevice[] = [];
            for (; i < keep.length && keep[i]!.imei === imei; i++) devices.push(keep[i]!.device);
            memory.set(Number(imei) + 1, codeOf(statusFrom(devices)));
            after = imei;
          }
        }
        if (full) {
          // Referenced: an unreferenced immediate does not keep the loop from blocking in poll,
          // so the build would crawl between I/O events; close() stops it (stop()).
          setImmediate(step);
          return;
        }
        this.#memory = memory;
        this.#applied = from;
        this.#seenVersion = -1; // the next lookup replays the feed since `from`
        this.#state = "ready";
        this.builds++;
        this.buildMs = performance.now() - t0;
        this.lastError = undefined;
      } catch (e) {
        this.#fail(e);
      }
    };
    step();
  }

  #fail(e: unknown): void {
    this.lastError = e instanceof Error ? e : new Error(String(e));
    if (this.#state !== "stopped") this.#state = "empty"; // the next lookup tries again
  }
}
