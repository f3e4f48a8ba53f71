// owners: who may report a device stolen, lost or found (PROTOCOL.md §6.2). History is kept:
// a transfer ends the current row and starts a new one.
import type { Db, Stmt } from "./util.js";
import { blob, bytes } from "./util.js";

export interface Owner {
  readonly did: string;
  readonly kid: Uint8Array;
  readonly key: Uint8Array; // COSE_Key bytes
  readonly since: number;
  readonly until: number | null;
  readonly via: "claim" | "transfer" | "reset";
}

type Row = { did: string; owner_kid: Buffer; owner_key: Buffer; since: number; until: number | null; via: "claim" | "transfer" | "reset" };

function toOwner(r: Row): Owner {
  return { did: r.did, kid: bytes(r.owner_kid), key: bytes(r.owner_key), since: r.since, until: r.until, via: r.via };
}

export class OwnerTable {
  readonly #current: Stmt;
  readonly #add: Stmt;
  readonly #end: Stmt;
  readonly #history: Stmt;
  readonly #ownedBy: Stmt;

  constructor(db: Db) {
    this.#current = db.prepare("SELECT * FROM owners WHERE did = ? AND until IS NULL");
    this.#add = db.prepare("INSERT INTO owners (did, owner_kid, owner_key, since, via) VALUES (?, ?, ?, ?, ?)");
    this.#end = db.prepare("UPDATE owners SET until = ? WHERE did = ? AND until IS NULL");
    this.#history = db.prepare("SELECT * FROM owners WHERE did = ? ORDER BY id");
    this.#ownedBy = db.prepare("SELECT did FROM owners WHERE owner_kid = ? AND until IS NULL ORDER BY since");
  }

  current(did: string): Owner | undefined {
    const r = this.#current.get(did) as Row | undefined;
    return r && toOwner(r);
  }

  /** Makes `kid`/`key` the current owner, ending the previous ownership if any. */
  set(did: string, kid: Uint8Array, key: Uint8Array, at: number, via: "claim" | "transfer" | "reset"): void {
    this.#end.run(at, did);
    this.#add.run(did, blob(kid), blob(key), at, via);
  }

  /** Ends the current ownership, if any (an authority's reset-owner); true if there was one. */
  end(did: string, at: number): boolean {
    return this.#end.run(at, did).changes > 0;
  }

  /** The devices `kid` currently owns (the owner portal's "My phones"). */
  ownedBy(kid: Uint8Array): string[] {
    return (this.#ownedBy.all(blob(kid)) as { did: string }[]).map((r) => r.did);
  }

  history(did: string): Owner[] {
    return (this.#history.all(did) as Row[]).map(toOwner);
  }
}
