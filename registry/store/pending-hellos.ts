// pending_hellos: the endorsement of a verified hello (PROTOCOL.md §4.1), kept from the hello
// until the attestation answering its challenge is verified against it (§4.3). In the database
// so that a worker other than the one that took the hello can verify that attestation. At most
// one per device (a newer hello replaces it); rows older than the challenge lifetime are purged.
import type { Db, Stmt } from "./util.js";
import { blob, bytes } from "./util.js";

export class PendingHelloTable {
  readonly #put: Stmt;
  readonly #get: Stmt;
  readonly #remove: Stmt;
  readonly #purge: Stmt;

  constructor(db: Db) {
    this.#put = db.prepare("INSERT INTO pending_hellos (did, endorsement, at) VALUES (?, ?, ?) ON CONFLICT (did) DO UPDATE SET endorsement = excluded.endorsement, at = excluded.at");
    this.#get = db.prepare("SELECT endorsement FROM pending_hellos WHERE did = ?").pluck();
    this.#remove = db.prepare("DELETE FROM pending_hellos WHERE did = ?");
    this.#purge = db.prepare("DELETE FROM pending_hellos WHERE at < ?");
  }

  /** Remembers the endorsement `did` presented in a verified hello at `at`. */
  put(did: string, endorsement: Uint8Array, at: number): void {
    this.#put.run(did, blob(endorsement), at);
  }

  get(did: string): Uint8Array | undefined {
    const v = this.#get.get(did);
    return v === undefined ? undefined : bytes(v);
  }

  remove(did: string): void {
    this.#remove.run(did);
  }

  /** Forgets hellos taken before `before` (ms); returns how many. */
  purge(before: number): number {
    return this.#purge.run(before).changes;
  }
}
