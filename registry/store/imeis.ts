// imei_bindings and endorsements: which device keys presented which IMEIs (PROTOCOL.md §6.1).
import type { Db, Stmt } from "./util.js";
import { blob } from "./util.js";

export interface ImeiBinding {
  readonly imei: string;
  readonly did: string;
  readonly slot: 1 | 2;
  readonly boundAt: number;
}

export class ImeiTable {
  readonly #bind: Stmt;
  readonly #dids: Stmt;
  readonly #of: Stmt;
  readonly #endorse: Stmt;

  constructor(db: Db) {
    this.#bind = db.prepare("INSERT INTO imei_bindings (imei, did, slot, bound_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING");
    this.#dids = db.prepare("SELECT did FROM imei_bindings WHERE imei = ? ORDER BY bound_at, did");
    this.#of = db.prepare("SELECT imei, did, slot, bound_at FROM imei_bindings WHERE did = ? ORDER BY slot, bound_at DESC, imei");
    this.#endorse = db.prepare("INSERT INTO endorsements (did, digest, endorsement, first_seen) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING");
  }

  /** Binds an IMEI to a device; true when the pair is new. */
  bind(imei: string, did: string, slot: 1 | 2, at: number): boolean {
    return this.#bind.run(imei, did, slot, at).changes === 1;
  }

  /** The devices an IMEI is bound to, oldest binding first (more than one = clone suspects). */
  didsFor(imei: string): string[] {
    return (this.#dids.all(imei) as { did: string }[]).map((r) => r.did);
  }

  /** The IMEIs bound to a device, slot 1 first, the latest binding of each slot first. */
  of(did: string): ImeiBinding[] {
    return (this.#of.all(did) as { imei: string; did: string; slot: 1 | 2; bound_at: number }[]).map((r) => ({
      imei: r.imei,
      did: r.did,
      slot: r.slot,
      boundAt: r.bound_at,
    }));
  }

  /** Records an endorsement a device presented; true when it was not seen before for this device. */
  recordEndorsement(did: string, digest: Uint8Array, endorsement: Uint8Array, at: number): boolean {
    return this.#endorse.run(did, blob(digest), blob(endorsement), at).changes === 1;
  }
}
