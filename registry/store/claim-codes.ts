// claim_codes: single-use, expiring claim codes (PROTOCOL.md §6.2, "Claim codes"), each issued
// to one owner key for one IMEI. A claim consumes its code inside the claim's transaction.
import type { Db, Stmt } from "./util.js";
import { blob, bytes, bytesOrNull } from "./util.js";

/** The latest reset-owner of a device, if any (owner_resets). */
export class OwnerResetTable {
  readonly #add: Stmt;
  readonly #latest: Stmt;
  constructor(db: Db) {
    this.#add = db.prepare("INSERT INTO owner_resets (did, at, authority_kid, new_owner_kid, reason) VALUES (?, ?, ?, ?, ?)");
    this.#latest = db.prepare("SELECT at FROM owner_resets WHERE did = ? ORDER BY id DESC LIMIT 1");
  }
  add(did: string, at: number, authorityKid: Uint8Array, newOwnerKid: Uint8Array | null, reason: string): void {
    this.#add.run(did, at, blob(authorityKid), newOwnerKid ? blob(newOwnerKid) : null, reason);
  }
  /** When the device's ownership was last reset (ms), or undefined. */
  latestAt(did: string): number | undefined {
    return (this.#latest.get(did) as { at: number } | undefined)?.at;
  }
}

export interface ClaimCode {
  readonly code: string;
  readonly ownerKid: Uint8Array;
  readonly imei: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly usedAt: number | null;
  /** A verified claim proof the handset handed in for this code (docs/PORTAL.md §4), if any. */
  readonly proof: Uint8Array | null;
}

type Row = { code: string; owner_kid: Buffer; imei: string; issued_at: number; expires_at: number; used_at: number | null; proof: Buffer | null };

export class ClaimCodeTable {
  readonly #get: Stmt;
  readonly #add: Stmt;
  readonly #use: Stmt;
  readonly #purge: Stmt;
  readonly #proof: Stmt;
  #lastPurge = -Infinity;

  constructor(db: Db) {
    this.#get = db.prepare("SELECT * FROM claim_codes WHERE code = ?");
    this.#add = db.prepare("INSERT INTO claim_codes (code, owner_kid, imei, issued_at, expires_at) VALUES (?, ?, ?, ?, ?)");
    this.#use = db.prepare("UPDATE claim_codes SET used_at = ? WHERE code = ? AND used_at IS NULL");
    this.#purge = db.prepare("DELETE FROM claim_codes WHERE expires_at < ?");
    this.#proof = db.prepare("UPDATE claim_codes SET proof = ? WHERE code = ? AND used_at IS NULL");
  }

  get(code: string): ClaimCode | undefined {
    const r = this.#get.get(code) as Row | undefined;
    return r && { code: r.code, ownerKid: bytes(r.owner_kid), imei: r.imei, issuedAt: r.issued_at, expiresAt: r.expires_at, usedAt: r.used_at, proof: bytesOrNull(r.proof) };
  }

  /** Stores a new code; false if the code is already taken (the caller draws another). */
  add(code: string, ownerKid: Uint8Array, imei: string, at: number, expiresAt: number): boolean {
    if (this.#get.get(code) !== undefined) return false;
    this.#add.run(code, blob(ownerKid), imei, at, expiresAt);
    return true;
  }

  /** Marks the code used; false if it already was. */
  use(code: string, at: number): boolean {
    return this.#use.run(at, code).changes > 0;
  }

  /** Keeps the (verified) claim proof handed in for an unused code; false if the code is used or unknown. */
  setProof(code: string, proof: Uint8Array): boolean {
    return this.#proof.run(blob(proof), code).changes > 0;
  }

  /** At most once a minute: forgets codes that expired more than `keepMs` before `now`. */
  purgeOccasionally(now: number, keepMs: number): void {
    if (now - this.#lastPurge < 60_000) return;
    this.#lastPurge = now;
    this.#purge.run(now - keepMs);
  }
}
