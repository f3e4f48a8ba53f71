// The registry's SQLite schema, as an append-only list of migrations. PRAGMA user_version holds
// the number of migrations applied; opening a database runs the missing ones in one transaction
// and refuses a database written by a newer registry (E_DB_VERSION).
// Append a migration to change the schema; never edit one that has shipped.
//
// Times are integer milliseconds since the epoch (the registry's injected clock).
// Keys and kids are stored as raw bytes; `did` as its 32 lowercase hex characters (PROTOCOL.md §1).

import { LEDGER_MIGRATION } from "../ledger/schema.js";

export const MIGRATIONS: readonly string[] = [
  // 1: the registry (docs/PROTOCOL.md).
  `
  CREATE TABLE devices (
    did            TEXT PRIMARY KEY CHECK (length(did) = 32),
    device_key     BLOB NOT NULL,            -- raw Ed25519 public key of the device (32 bytes)
    endorsement    BLOB NOT NULL,            -- the endorsement it enrolled with
    oemid          BLOB NOT NULL,
    hwmodel        BLOB NOT NULL,
    enrolled_at    INTEGER NOT NULL,
    last_seen      INTEGER NOT NULL,
    last_attested  INTEGER NOT NULL,
    bootcount      INTEGER,                  -- from the latest verified attestation
    lock_state     INTEGER NOT NULL DEFAULT 0 CHECK (lock_state IN (0, 1, 2)),
    last_seq       INTEGER NOT NULL DEFAULT 0,
    tampered       INTEGER NOT NULL DEFAULT 0 CHECK (tampered IN (0, 1)),
    measurement    BLOB,                     -- digest reported in claim 273, if any
    online         INTEGER NOT NULL DEFAULT 0 CHECK (online IN (0, 1)),
    agent          TEXT
  ) WITHOUT ROWID;

  -- Every endorsement ever presented by a device (evidence for clone decisions).
  CREATE TABLE endorsements (
    did         TEXT NOT NULL REFERENCES devices(did),
    digest      BLOB NOT NULL,               -- SHA-512 of the endorsement bytes
    endorsement BLOB NOT NULL,
    first_seen  INTEGER NOT NULL,
    PRIMARY KEY (did, digest)
  ) WITHOUT ROWID;

  -- IMEI -> device. One IMEI bound to two devices is a clone (PROTOCOL.md §6.1), so the key
  -- is the pair, not the IMEI.
  CREATE TABLE imei_bindings (
    imei     TEXT NOT NULL CHECK (length(imei) = 15),
    did      TEXT NOT NULL REFERENCES devices(did),
    slot     INTEGER NOT NULL CHECK (slot IN (1, 2)),   -- 1 = ueid (IMEI 1), 2 = sueids "imei2"
    bound_at INTEGER NOT NULL,
    PRIMARY KEY (imei, did)
  ) WITHOUT ROWID;
  CREATE INDEX imei_bindings_did ON imei_bindings(did);

  -- Owner history; the current owner is the row with until IS NULL.
  CREATE TABLE owners (
    id         INTEGER PRIMARY KEY,
    did        TEXT NOT NULL REFERENCES devices(did),
    owner_kid  BLOB NOT NULL,
    owner_key  BLOB NOT NULL,                -- COSE_Key bytes (RFC 9052 §7), as in the request
    since      INTEGER NOT NULL,
    until      INTEGER,
    via        TEXT NOT NULL CHECK (via IN ('claim', 'transfer'))
  );
  CREATE UNIQUE INDEX owners_current ON owners(did) WHERE until IS NULL;
  CREATE INDEX owners_kid ON owners(owner_kid);

  -- Flags: stolen / lost (owner), authority (pinned authority key): BLACKLISTED;
  -- clone / tampered (raised by the registry itself): GREYLISTED.
  CREATE TABLE flags (
    id           INTEGER PRIMARY KEY,
    did          TEXT NOT NULL REFERENCES devices(did),
    imei         TEXT,                        -- the IMEI the request named, if any
    kind         TEXT NOT NULL CHECK (kind IN ('stolen', 'lost', 'authority', 'clone', 'tampered')),
    raised_role  TEXT NOT NULL CHECK (raised_role IN ('owner', 'authority', 'registry')),
    raised_kid   BLOB,                        -- NULL when the registry raised it
    reason       TEXT NOT NULL DEFAULT '',
    at           INTEGER NOT NULL,
    cleared_at   INTEGER,
    cleared_role TEXT CHECK (cleared_role IN ('owner', 'authority', 'registry')),
    cleared_kid  BLOB
  );
  CREATE INDEX flags_active ON flags(did) WHERE cleared_at IS NULL;

  -- Signed commands and their job state (AWS IoT Jobs style, PROTOCOL.md §4.5, §4.6).
  CREATE TABLE commands (
    did          TEXT NOT NULL REFERENCES devices(did),
    seq          INTEGER NOT NULL CHECK (seq BETWEEN 1 AND 4294967295),
    action       INTEGER NOT NULL CHECK (action IN (1, 2, 3)),
    message      TEXT,
    contact      TEXT,
    cose         BLOB NOT NULL,               -- the COSE_Sign1 bytes as published
    status       TEXT NOT NULL CHECK (status IN
                   ('QUEUED', 'SENT', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED', 'SUPERSEDED')),
    created_at   INTEGER NOT NULL,
    sent_at      INTEGER,
    receipt_at   INTEGER,
    result_at    INTEGER,
    result_code  INTEGER,
    result_error INTEGER,
    result_token BLOB,
    PRIMARY KEY (did, seq)
  ) WITHOUT ROWID;
  CREATE INDEX commands_open ON commands(status) WHERE status IN ('QUEUED', 'SENT', 'IN_PROGRESS', 'FAILED');

  -- Request ids seen (replay protection, PROTOCOL.md §6.2); rows older than the ts window may go.
  CREATE TABLE request_ids (
    id   BLOB PRIMARY KEY,
    kid  BLOB NOT NULL,
    type TEXT NOT NULL,
    at   INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX request_ids_at ON request_ids(at);

  -- The append-only event log (docs/LEDGER.md builds its Merkle tree over it). Never updated or deleted.
  CREATE TABLE events (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    type   TEXT NOT NULL,
    did    TEXT,
    imei   TEXT,
    party  TEXT,                              -- 'owner:<kid hex>', 'authority:<kid hex>', 'registry'
    detail TEXT NOT NULL DEFAULT '{}'         -- JSON object
  );
  CREATE INDEX events_did ON events(did);
  CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
  CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
  `,
  // 2: the tamper-evident ledger (docs/LEDGER.md, registry/ledger/schema.ts).
  LEDGER_MIGRATION,
  // 3: challenges and pending hellos move from one worker's memory into the database, so several
  // registry workers behind an MQTT 5 shared subscription can each check any attestation
  // (store/challenges.ts, store/pending-hellos.ts). No foreign keys: a device is challenged
  // before it is enrolled.
  `
  -- Outstanding challenges (PROTOCOL.md §4.2): single use, bound to the did they were sent to.
  CREATE TABLE challenges (
    did       TEXT NOT NULL CHECK (length(did) = 32),
    nonce     BLOB NOT NULL,
    issued_at INTEGER NOT NULL,
    issued_by TEXT NOT NULL DEFAULT '',      -- the registry worker that sent it (its --name)
    PRIMARY KEY (did, nonce)
  ) WITHOUT ROWID;
  CREATE INDEX challenges_issued_at ON challenges(issued_at);

  -- The endorsement of a verified hello (§4.1), until the attestation that follows it (§4.3).
  CREATE TABLE pending_hellos (
    did         TEXT PRIMARY KEY CHECK (length(did) = 32),
    endorsement BLOB NOT NULL,
    at          INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX pending_hellos_at ON pending_hellos(at);
  `,
  // 4: ownership abuse resistance (PROTOCOL.md §6.2): claim codes, and owners set by an
  // authority's reset-owner (via 'reset'; SQLite cannot alter a CHECK, so the table is rebuilt).
  `
  -- Claim codes: issued to one owner key for one IMEI, single use, expiring.
  CREATE TABLE claim_codes (
    code       TEXT PRIMARY KEY CHECK (length(code) = 10),  -- canonical form (protocol/claim-code.ts)
    owner_kid  BLOB NOT NULL,
    imei       TEXT NOT NULL CHECK (length(imei) = 15),
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER                                      -- set by the claim that consumed it
  ) WITHOUT ROWID;
  CREATE INDEX claim_codes_expires ON claim_codes(expires_at);

  -- Ownership resets by a pinned authority (reset-owner): with a new owner, or a release.
  CREATE TABLE owner_resets (
    id            INTEGER PRIMARY KEY,
    did           TEXT NOT NULL REFERENCES devices(did),
    at            INTEGER NOT NULL,
    authority_kid BLOB NOT NULL,
    new_owner_kid BLOB,                                      -- NULL: a release (claimable again)
    reason        TEXT NOT NULL DEFAULT ''
  );
  CREATE INDEX owner_resets_did ON owner_resets(did);

  CREATE TABLE owners_v4 (
    id         INTEGER PRIMARY KEY,
    did        TEXT NOT NULL REFERENCES devices(did),
    owner_kid  BLOB NOT NULL,
    owner_key  BLOB NOT NULL,
    since      INTEGER NOT NULL,
    until      INTEGER,
    via        TEXT NOT NULL CHECK (via IN ('claim', 'transfer', 'reset'))
  );
  INSERT INTO owners_v4 (id, did, owner_kid, owner_key, since, until, via)
    SELECT id, did, owner_kid, owner_key, since, until, via FROM owners;
  DROP TABLE owners;
  ALTER TABLE owners_v4 RENAME TO owners;
  CREATE UNIQUE INDEX owners_current ON owners(did) WHERE until IS NULL;
  CREATE INDEX owners_kid ON owners(owner_kid);
  `,
  // 5: the owner portal (docs/PORTAL.md): passkeys (WebAuthn credentials, W3C WebAuthn Level 2),
  // single-use ceremony challenges, sign-in sessions, and the claim proof a handset hands in for
  // its claim code (so the portal sees the claim complete without the owner copying it).
  `
  CREATE TABLE passkeys (
    credential_id BLOB PRIMARY KEY,
    kid           BLOB NOT NULL UNIQUE,        -- SHA-512(public_key)[0..16]: the owner kid it signs as
    public_key    BLOB NOT NULL,               -- the credential's COSE_Key (RFC 9053), as registered
    alg           INTEGER NOT NULL CHECK (alg IN (-7, -8)),   -- ES256, EdDSA
    counter       INTEGER NOT NULL DEFAULT 0,  -- the authenticator's signature counter (WebAuthn §6.1.1)
    name          TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
  ) WITHOUT ROWID;

  CREATE TABLE webauthn_challenges (
    challenge  BLOB PRIMARY KEY,
    purpose    TEXT NOT NULL CHECK (purpose IN ('register', 'sign-in')),
    issued_at  INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX webauthn_challenges_issued ON webauthn_challenges(issued_at);

  CREATE TABLE portal_sessions (
    token_hash BLOB PRIMARY KEY,               -- SHA-256 of the cookie value
    kid        BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX portal_sessions_expires ON portal_sessions(expires_at);

  ALTER TABLE claim_codes ADD COLUMN proof BLOB;  -- a verified claim proof handed in for the code
  `,
  // 6: the equipment-status change feed (docs/STORAGE.md §4, registry/status-snapshot.ts): every
  // write an IMEI's status depends on - bindings, flags, a device row and its tampered bit - appends
  // the IMEIs it touches, in commit order (SQLite has one writer; AUTOINCREMENT never reuses a seq).
  // Each registry process's in-memory snapshot replays the rows after the last seq it applied. The
  // registry prunes the feed to its newest rows (Store.pruneStatusChanges; not a trigger on the
  // feed: that nested trigger program made every write 5x slower); a snapshot that fell behind the
  // oldest row left rebuilds.
  `
  CREATE TABLE status_changes (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    imei TEXT NOT NULL
  );
  CREATE TRIGGER imei_bindings_status_ins AFTER INSERT ON imei_bindings BEGIN
    INSERT INTO status_changes (imei) VALUES (NEW.imei);
  END;
  CREATE TRIGGER imei_bindings_status_del AFTER DELETE ON imei_bindings BEGIN
    INSERT INTO status_changes (imei) VALUES (OLD.imei);
  END;
  CREATE TRIGGER imei_bindings_status_upd AFTER UPDATE ON imei_bindings BEGIN
    INSERT INTO status_changes (imei) VALUES (OLD.imei);
    INSERT INTO status_changes (imei) SELECT NEW.imei WHERE NEW.imei <> OLD.imei;
  END;
  CREATE TRIGGER flags_status_ins AFTER INSERT ON flags BEGIN
    INSERT INTO status_changes (imei) SELECT imei FROM imei_bindings WHERE did = NEW.did;
  END;
  CREATE TRIGGER flags_status_upd AFTER UPDATE ON flags BEGIN
    INSERT INTO status_changes (imei) SELECT imei FROM imei_bindings WHERE did = NEW.did OR did = OLD.did;
  END;
  CREATE TRIGGER flags_status_del AFTER DELETE ON flags BEGIN
    INSERT INTO status_changes (imei) SELECT imei FROM imei_bindings WHERE did = OLD.did;
  END;
  CREATE TRIGGER devices_status_ins AFTER INSERT ON devices BEGIN
    INSERT INTO status_changes (imei) SELECT imei FROM imei_bindings WHERE did = NEW.did;
  END;
  CREATE TRIGGER devices_status_upd AFTER UPDATE OF tampered, did ON devices
    WHEN NEW.tampered IS NOT OLD.tampered OR NEW.did IS NOT OLD.did BEGIN
    INSERT INTO status_changes (imei) SELECT imei FROM imei_bindings WHERE did = NEW.did OR did = OLD.did;
  END;
  CREATE TRIGGER devices_status_del AFTER DELETE ON devices BEGIN
    INSERT INTO status_changes (imei) SELECT imei FROM imei_bindings WHERE did = OLD.did;
  END;
  `,
];
