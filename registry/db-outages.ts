// A lost PostgreSQL connection, seen from the registry (docs/STORAGE.md §7). The connection's
// worker reconnects by itself (store/pg/worker.ts); meanwhile every statement fails at once with
// E_DB. This module:
// - logs each outage once - `db.unavailable` when it starts, `db.restored` when it ends, with
//   its length and the statements refused meanwhile - not once per request or message;
// - holds the device messages whose transaction failed for lack of a database and hands them
//   back once it is reachable again. MQTT.js acknowledges a QoS 1 message (PUBACK) when it
//   reads it, before its transaction runs, so the broker will not deliver it again: holding it
//   here is its redelivery. Handling a message twice is harmless (a result is recorded once, a
//   challenge answer uses its nonce once, a hello is rate-limited, PROTOCOL.md §6.4). What is
//   held is lost with the process (kill -9 during an outage); the protocol's own retries cover
//   that: a hello on every connect, open commands re-sent on every hello and heartbeat until
//   their result arrives (PROTOCOL.md §5).
import type { Logger } from "../agent/log.js";
import type { DeviceTopicKind } from "../protocol/messages.js";
import { isDatabaseUnavailable, type PgDatabase } from "./store/pg/database.js";

export interface HeldMessage {
  readonly did: string;
  readonly kind: DeviceTopicKind;
  readonly payload: Uint8Array;
  /** Times it was handled and failed for lack of a database. */
  readonly tries: number;
}

/** Messages held at most (a burst of a large fleet during a long outage); later ones are dropped and counted. */
const MAX_HELD = 10_000;
/** A message that failed this often, with the database back each time, is dropped. */
const MAX_TRIES = 5;

export class DatabaseOutages {
  readonly #db: PgDatabase;
  readonly #log: Logger;
  readonly #replay: (m: HeldMessage) => void;
  readonly #unsubscribe: () => void;
  #held: HeldMessage[] = [];
  #dropped = 0;
  #scheduled = false;
  #stopped = false;
  /** Outages seen (for tests and metrics). */
  outages = 0;

  constructor(db: PgDatabase, log: Logger, replay: (m: HeldMessage) => void) {
    this.#db = db;
    this.#log = log;
    this.#replay = replay;
    this.#unsubscribe = db.onState((e) => {
      if (e.type === "lost") {
        this.outages++;
        log.log("error", "db.unavailable", { error: e.error, reconnecting: true });
      } else {
        log.log("info", "db.restored", { downMs: e.downMs, attempts: e.attempts, refused: e.refused, held: this.#held.length, dropped: this.#dropped });
        this.#dropped = 0;
        this.#drain();
      }
    });
  }

  /**
   * Keeps `m` to be handled again if `e` says the database was unavailable; answers whether it
   * did (the caller then logs nothing: the outage is logged once, here).
   */
  hold(m: Omit<HeldMessage, "tries"> & { tries?: number }, e: unknown): boolean {
    if (!isDatabaseUnavailable(e) || this.#stopped) return false;
    const tries = (m.tries ?? 0) + 1;
    if (tries >= MAX_TRIES || this.#held.length >= MAX_HELD) {
      this.#dropped++;
      this.#log.log("warn", "db.message-dropped", { did: m.did, kind: m.kind, tries });
      return true;
    }
    this.#held.push({ did: m.did, kind: m.kind, payload: m.payload.slice(), tries });
    // The connection may be back already (its "restored" event came before this failure).
    if (this.#db.connected) this.#drain();
    return true;
  }

  /** Messages waiting for the database. */
  get held(): number {
    return this.#held.length;
  }

  #drain(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#stopped || !this.#db.connected) return;
      const batch = this.#held;
      this.#held = [];
      for (const m of batch) this.#replay(m);
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#held = [];
    this.#unsubscribe();
  }
}
