// request_ids: single-use request ids (PROTOCOL.md §6.2 replay protection). A request is only
// accepted within +-300 s of its ts, so ids older than twice that window can be forgotten.
import type { Db, Stmt } from "./util.js";
import { blob } from "./util.js";

export class RequestIdTable {
  readonly #has: Stmt;
  readonly #add: Stmt;
  readonly #purge: Stmt;
  #lastPurge = -Infinity;

  constructor(db: Db) {
    this.#has = db.prepare("SELECT 1 FROM request_ids WHERE id = ?");
    this.#add = db.prepare("INSERT INTO request_ids (id, kid, type, at) VALUES (?, ?, ?, ?)");
    this.#purge = db.prepare("DELETE FROM request_ids WHERE at < ?");
  }

  has(id: Uint8Array): boolean {
    return this.#has.get(blob(id)) !== undefined;
  }

  add(id: Uint8Array, kid: Uint8Array, type: string, at: number): void {
    this.#add.run(blob(id), blob(kid), type, at);
  }

  /** At most once a minute: forgets ids older than `maxAgeMs` at `now`. */
  purgeOccasionally(now: number, maxAgeMs: number): void {
    if (now - this.#lastPurge < 60_000) return;
    this.#lastPurge = now;
    this.purge(now - maxAgeMs);
  }

  /** Forgets ids recorded before `before` (ms); returns how many. */
  purge(before: number): number {
    return this.#purge.run(before).changes;
  }
}
