// The owner portal's tables (docs/PORTAL.md): passkeys (WebAuthn credentials), the single-use
// challenges of the sign-up and sign-in ceremonies, and sign-in sessions.
import type { Db, Stmt } from "./util.js";
import { blob, bytes } from "./util.js";

export interface Passkey {
  readonly credentialId: Uint8Array;
  /** The owner kid this credential signs as: SHA-512(publicKey)[0..16] (docs/PORTAL.md §2). */
  readonly kid: Uint8Array;
  /** The credential's COSE_Key (RFC 9053), as the authenticator registered it. */
  readonly publicKey: Uint8Array;
  /** COSE algorithm: -7 ES256, -8 EdDSA. */
  readonly alg: -7 | -8;
  readonly counter: number;
  readonly name: string;
  readonly createdAt: number;
}

type Row = { credential_id: Buffer; kid: Buffer; public_key: Buffer; alg: -7 | -8; counter: number; name: string; created_at: number };

const toPasskey = (r: Row): Passkey => ({
  credentialId: bytes(r.credential_id), kid: bytes(r.kid), publicKey: bytes(r.public_key), alg: r.alg, counter: r.counter, name: r.name, createdAt: r.created_at,
});

export class PasskeyTable {
  readonly #byId: Stmt;
  readonly #byKid: Stmt;
  readonly #add: Stmt;
  readonly #counter: Stmt;

  constructor(db: Db) {
    this.#byId = db.prepare("SELECT * FROM passkeys WHERE credential_id = ?");
    this.#byKid = db.prepare("SELECT * FROM passkeys WHERE kid = ?");
    this.#add = db.prepare("INSERT INTO passkeys (credential_id, kid, public_key, alg, name, counter, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)");
    // Compare-and-set: a counter only moves forwards (WebAuthn §6.1.1); 0 means the authenticator keeps none.
    this.#counter = db.prepare("UPDATE passkeys SET counter = ?, last_used_at = ? WHERE credential_id = ? AND (counter < ? OR ? = 0)");
  }

  byCredentialId(id: Uint8Array): Passkey | undefined {
    const r = this.#byId.get(blob(id)) as Row | undefined;
    return r && toPasskey(r);
  }

  byKid(kid: Uint8Array): Passkey | undefined {
    const r = this.#byKid.get(blob(kid)) as Row | undefined;
    return r && toPasskey(r);
  }

  /** False if the credential id is already registered. */
  add(p: Omit<Passkey, "createdAt">, at: number): boolean {
    if (this.#byId.get(blob(p.credentialId)) !== undefined) return false;
    this.#add.run(blob(p.credentialId), blob(p.kid), blob(p.publicKey), p.alg, p.name, p.counter, at);
    return true;
  }

  /** Records a use with the authenticator's new counter; false if the counter did not move forwards. */
  used(id: Uint8Array, counter: number, at: number): boolean {
    return this.#counter.run(counter, at, blob(id), counter, counter).changes > 0;
  }
}

export type CeremonyPurpose = "register" | "sign-in";

/** Single-use ceremony challenges (WebAuthn §13.4.3: random, at least 16 bytes, used once). */
export class WebAuthnChallengeTable {
  readonly #add: Stmt;
  readonly #take: Stmt;
  readonly #purge: Stmt;
  readonly #count: Stmt;

  constructor(db: Db) {
    this.#count = db.prepare("SELECT count(*) AS n FROM webauthn_challenges");
    this.#add = db.prepare("INSERT INTO webauthn_challenges (challenge, purpose, issued_at) VALUES (?, ?, ?)");
    this.#take = db.prepare("DELETE FROM webauthn_challenges WHERE challenge = ? AND purpose = ? AND issued_at > ?");
    this.#purge = db.prepare("DELETE FROM webauthn_challenges WHERE issued_at <= ?");
  }

  add(challenge: Uint8Array, purpose: CeremonyPurpose, at: number): void {
    this.#add.run(blob(challenge), purpose, at);
  }

  /** Consumes a challenge issued for `purpose` after `notBefore`; false if there is none. */
  take(challenge: Uint8Array, purpose: CeremonyPurpose, notBefore: number): boolean {
    return this.#take.run(blob(challenge), purpose, notBefore).changes > 0;
  }

  purge(notAfter: number): void {
    this.#purge.run(notAfter);
  }

  count(): number {
    return (this.#count.get() as { n: number }).n;
  }
}

/** Sign-in sessions: the SHA-256 of the cookie value -> the passkey's kid, until it expires. */
export class PortalSessionTable {
  readonly #add: Stmt;
  readonly #get: Stmt;
  readonly #end: Stmt;
  readonly #purge: Stmt;

  constructor(db: Db) {
    this.#add = db.prepare("INSERT INTO portal_sessions (token_hash, kid, created_at, expires_at) VALUES (?, ?, ?, ?)");
    this.#get = db.prepare("SELECT kid FROM portal_sessions WHERE token_hash = ? AND expires_at > ?");
    this.#end = db.prepare("DELETE FROM portal_sessions WHERE token_hash = ?");
    this.#purge = db.prepare("DELETE FROM portal_sessions WHERE expires_at <= ?");
  }

  add(tokenHash: Uint8Array, kid: Uint8Array, at: number, expiresAt: number): void {
    this.#add.run(blob(tokenHash), blob(kid), at, expiresAt);
  }

  kidOf(tokenHash: Uint8Array, now: number): Uint8Array | undefined {
    const r = this.#get.get(blob(tokenHash), now) as { kid: Buffer } | undefined;
    return r && bytes(r.kid);
  }

  end(tokenHash: Uint8Array): void {
    this.#end.run(blob(tokenHash));
  }

  purge(now: number): void {
    this.#purge.run(now);
  }
}
