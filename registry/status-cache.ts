// The equipment-status cache of a PostgreSQL registry (docs/STORAGE.md §4; a SQLite registry keeps
// a whole snapshot instead, status-snapshot.ts): statuses by IMEI, valid for one generation of the
// database. The generation is read on every lookup, without a round trip, and changes whenever
// something a status depends on may have changed: the number of NOTIFY antitheft_flags received
// (triggers on flags, peer flags, alarms, bindings and a device's tampered bit send it at commit;
// store/pg/schema.ts) plus this process's own writes and commits. This process's own flags
// invalidate at once; another process's flag invalidates when its notification arrives, a
// fraction of a millisecond after the commit on a LAN (docs/STORAGE.md §4 has the exact guarantee).
// Any change clears the whole cache: simple, and a flag is never missed. Not used inside a
// transaction (a status computed there may be rolled back).
import { statusFrom, type EquipmentStatus } from "./status-rule.js";
import type { StatusTable } from "./store/status.js";

const UNKNOWN = "UNKNOWN" as const;

export class StatusCache {
  readonly #generation: () => number | string;
  readonly #table: StatusTable;
  readonly #max: number;
  #at: number | string | undefined;
  readonly #map = new Map<string, EquipmentStatus | typeof UNKNOWN>();
  hits = 0;
  misses = 0;

  constructor(generation: () => number | string, table: StatusTable, max = 100_000) {
    this.#generation = generation;
    this.#table = table;
    this.#max = max;
  }

  /** Nothing to warm: the cache fills as lookups come. */
  warm(): void {}

  readonly ready = true;

  get(imei: string): EquipmentStatus | undefined {
    const g = this.#generation();
    if (g !== this.#at) {
      this.#map.clear();
      this.#at = g;
    }
    const hit = this.#map.get(imei);
    if (hit !== undefined) {
      this.hits++;
      return hit === UNKNOWN ? undefined : hit;
    }
    this.misses++;
    const s = statusFrom(this.#table.of(imei));
    if (this.#map.size >= this.#max) this.#map.delete(this.#map.keys().next().value!); // the oldest entry
    this.#map.set(imei, s ?? UNKNOWN);
    return s;
  }

  get size(): number {
    return this.#map.size;
  }
}
