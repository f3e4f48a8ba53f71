// flags: the reasons a device is not WHITELISTED (PROTOCOL.md §6.2, §6.3).
// stolen / lost (raised by the owner) and authority (a pinned authority) blacklist a device;
// clone / tampered (raised by the registry itself) greylist it. Cleared flags stay as history.
import type { Db, Stmt } from "./util.js";
import { blobOrNull, bytesOrNull } from "./util.js";

export type FlagKind = "stolen" | "lost" | "authority" | "clone" | "tampered";
export type PartyRole = "owner" | "authority" | "registry";

/** Kinds that make a device BLACKLISTED; the others make it GREYLISTED. */
export const BLACKLIST_KINDS: readonly FlagKind[] = ["stolen", "lost", "authority"];

export function isBlacklistKind(kind: FlagKind): boolean {
  return BLACKLIST_KINDS.includes(kind);
}

export interface Party {
  readonly role: PartyRole;
  /** The signer's kid; null for the registry. */
  readonly kid: Uint8Array | null;
}

export interface Flag {
  readonly id: number;
  readonly did: string;
  readonly imei: string | null;
  readonly kind: FlagKind;
  readonly raisedBy: Party;
  readonly reason: string;
  readonly at: number;
  readonly clearedAt: number | null;
  readonly clearedBy: Party | null;
}

type Row = {
  id: number;
  did: string;
  imei: string | null;
  kind: FlagKind;
  raised_role: PartyRole;
  raised_kid: Buffer | null;
  reason: string;
  at: number;
  cleared_at: number | null;
  cleared_role: PartyRole | null;
  cleared_kid: Buffer | null;
};

function toFlag(r: Row): Flag {
  return {
    id: r.id,
    did: r.did,
    imei: r.imei,
    kind: r.kind,
    raisedBy: { role: r.raised_role, kid: bytesOrNull(r.raised_kid) },
    reason: r.reason,
    at: r.at,
    clearedAt: r.cleared_at,
    clearedBy: r.cleared_role ? { role: r.cleared_role, kid: bytesOrNull(r.cleared_kid) } : null,
  };
}

export class FlagTable {
  readonly #raise: Stmt;
  readonly #active: Stmt;
  readonly #all: Stmt;
  readonly #clear: Stmt;
  readonly #get: Stmt;

  constructor(db: Db) {
    this.#raise = db.prepare(
      "INSERT INTO flags (did, imei, kind, raised_role, raised_kid, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
    );
    this.#active = db.prepare("SELECT * FROM flags WHERE did = ? AND cleared_at IS NULL ORDER BY id");
    this.#all = db.prepare("SELECT * FROM flags WHERE did = ? ORDER BY id");
    this.#clear = db.prepare(
      "UPDATE flags SET cleared_at = ?, cleared_role = ?, cleared_kid = ? WHERE id = ? AND cleared_at IS NULL",
    );
    this.#get = db.prepare("SELECT * FROM flags WHERE id = ?");
  }

  /** Raises a flag and returns it. */
  raise(did: string, imei: string | null, kind: FlagKind, by: Party, reason: string, at: number): Flag {
    const id = (this.#raise.get(did, imei, kind, by.role, blobOrNull(by.kid), reason, at) as { id: number }).id;
    return toFlag(this.#get.get(id) as Row);
  }

  active(did: string): Flag[] {
    return (this.#active.all(did) as Row[]).map(toFlag);
  }

  history(did: string): Flag[] {
    return (this.#all.all(did) as Row[]).map(toFlag);
  }

  /** Clears an active flag; false when it was already cleared. */
  clear(id: number, by: Party, at: number): boolean {
    return this.#clear.run(at, by.role, blobOrNull(by.kid), id).changes === 1;
  }
}
