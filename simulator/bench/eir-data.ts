// The bulk data set of the "eir" benchmark section: device i (0 <= i < n) has did
// hex(i) padded to 32 digits and one IMEI, TAC 86123400 with SNR i (so up to 1,000,000 devices);
// every tenth device carries an active owner's stolen flag. Loaded with SQL in large batches
// (not through enrolment), for SQLite and PostgreSQL alike.
import { imeiFromTacSnr } from "../../attestation/index.js";
import type { Store } from "../../registry/store.js";

export const EIR_TAC = "86123400";

export function eirImei(i: number): string {
  return imeiFromTacSnr(EIR_TAC + String(i).padStart(6, "0"));
}

export const eirDid = (i: number): string => i.toString(16).padStart(32, "0");
export const eirFlagged = (i: number): boolean => i % 10 === 0;

const BATCH = 10_000;

/** Loads `n` devices, their IMEIs and the flags of every tenth, in batches of BATCH rows per statement. */
export function loadEirData(store: Store, n: number): void {
  if (n > 1_000_000) throw new RangeError("at most 1,000,000 devices (a 6-digit SNR)");
  const pg = store.engine === "postgres";
  const zero = Buffer.alloc(1);
  for (let from = 0; from < n; from += BATCH) {
    const to = Math.min(n, from + BATCH);
    const ids = Array.from({ length: to - from }, (_, k) => from + k);
    store.tx(() => {
      if (pg) {
        // one statement per table and batch: arrays unnested server-side
        const dids = ids.map(eirDid);
        store.db.prepare(
          `INSERT INTO devices (did, device_key, endorsement, oemid, hwmodel, enrolled_at, last_seen, last_attested)
           SELECT d, $2, $2, $2, $2, 0, 0, 0 FROM unnest($1::text[]) AS d`,
        ).run(dids, zero);
        store.db.prepare("INSERT INTO imei_bindings (imei, did, slot, bound_at) SELECT i, d, 1, 0 FROM unnest($1::text[], $2::text[]) AS t(i, d)").run(ids.map(eirImei), dids);
        const flagged = ids.filter(eirFlagged).map(eirDid);
        store.db.prepare("INSERT INTO flags (did, kind, raised_role, at) SELECT d, 'stolen', 'owner', 0 FROM unnest($1::text[]) AS d").run(flagged);
      } else {
        const dev = store.db.prepare(
          "INSERT INTO devices (did, device_key, endorsement, oemid, hwmodel, enrolled_at, last_seen, last_attested) VALUES (?, ?, ?, ?, ?, 0, 0, 0)",
        );
        const bind = store.db.prepare("INSERT INTO imei_bindings (imei, did, slot, bound_at) VALUES (?, ?, 1, 0)");
        const flag = store.db.prepare("INSERT INTO flags (did, kind, raised_role, at) VALUES (?, 'stolen', 'owner', 0)");
        for (const i of ids) {
          const did = eirDid(i);
          dev.run(did, zero, zero, zero, zero);
          bind.run(eirImei(i), did);
          if (eirFlagged(i)) flag.run(did);
        }
      }
    });
  }
  // The steady state of a registry, not the moment after a million inserts: planner statistics,
  // and the write-ahead log folded into the database (SQLite: a 200 MB WAL slows every read and
  // the registry's first commit would checkpoint it; PostgreSQL: vacuum sets the visibility map
  // so lookups need not visit the heap for dead-row checks, then a checkpoint).
  if (pg) {
    store.db.exec("VACUUM ANALYZE");
    store.db.exec("CHECKPOINT");
  } else {
    store.pruneStatusChanges(); // as the registry does every minute (docs/STORAGE.md §4.1)
    store.db.exec("ANALYZE");
    store.db.pragma("wal_checkpoint(TRUNCATE)");
  }
}
