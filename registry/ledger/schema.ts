// The ledger's tables: migration 2 of the registry database (registry/store/schema.ts appends
// it). One set of tables holds this registry's own log and the mirrors of its peers' logs,
// keyed by a small integer `log` (ledger_logs.id).
// Entries, tree nodes and tree heads are append-only: triggers refuse UPDATE and DELETE. (A
// database administrator can drop a trigger; that is what the auditor is for - docs/LEDGER.md §4.)

export const LEDGER_MIGRATION = `
  -- Logs: this registry's own (local = 1, exactly one) and each pinned peer's mirror.
  CREATE TABLE ledger_logs (
    id         INTEGER PRIMARY KEY,
    log_id     BLOB NOT NULL UNIQUE CHECK (length(log_id) = 16),     -- kid of the log's key
    public_key BLOB NOT NULL CHECK (length(public_key) = 32),        -- raw Ed25519
    name       TEXT NOT NULL DEFAULT '',
    local      INTEGER NOT NULL DEFAULT 0 CHECK (local IN (0, 1)),
    size       INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0)          -- entries 0..size-1 are in the tree
  );
  CREATE UNIQUE INDEX ledger_logs_one_local ON ledger_logs(local) WHERE local = 1;

  -- Signed entries (entry.ts), by log and position. A peer's entries beyond its contiguous
  -- prefix (size) wait here until the gap is filled.
  CREATE TABLE ledger_entries (
    log  INTEGER NOT NULL REFERENCES ledger_logs(id),
    seq  INTEGER NOT NULL CHECK (seq >= 0),
    cose BLOB NOT NULL,
    PRIMARY KEY (log, seq)
  ) WITHOUT ROWID;

  -- RFC 9162 hashes of complete subtrees: leaves [idx * 2^level, (idx + 1) * 2^level).
  -- level 0 holds the leaf hashes. ~2 rows per entry; a proof reads O(log n) of them.
  CREATE TABLE ledger_nodes (
    log   INTEGER NOT NULL,
    level INTEGER NOT NULL CHECK (level BETWEEN 0 AND 63),
    idx   INTEGER NOT NULL CHECK (idx >= 0),
    hash  BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (log, level, idx)
  ) WITHOUT ROWID;

  -- Signed tree heads: the ones this registry signed, and every distinct one seen of a peer.
  -- Two rows with one (log, size) and different roots are a fork.
  CREATE TABLE ledger_heads (
    log     INTEGER NOT NULL REFERENCES ledger_logs(id),
    size    INTEGER NOT NULL CHECK (size >= 0),
    root    BLOB NOT NULL CHECK (length(root) = 32),
    ts      INTEGER NOT NULL,
    cose    BLOB NOT NULL,
    seen_at INTEGER NOT NULL,
    PRIMARY KEY (log, size, root)
  ) WITHOUT ROWID;

  -- Alarms with their evidence (signed objects anyone can re-check).
  CREATE TABLE ledger_alarms (
    id     INTEGER PRIMARY KEY,
    log    INTEGER NOT NULL REFERENCES ledger_logs(id),
    code   TEXT NOT NULL,                -- E_LEDGER_FORK, E_LEDGER_ENTRY_FORK, E_LEDGER_ROOT
    size   INTEGER,
    first  BLOB NOT NULL,                -- a signed head or entry
    second BLOB NOT NULL DEFAULT x'',    -- the one it conflicts with, when there is one
    detail TEXT NOT NULL DEFAULT '',
    at     INTEGER NOT NULL,
    UNIQUE (log, code, first, second)
  );

  -- This registry's flags and the entry that published each (so a clear can name it).
  CREATE TABLE ledger_local_flags (
    flag INTEGER PRIMARY KEY REFERENCES flags(id),
    seq  INTEGER NOT NULL
  );

  -- Peers' flags by IMEI pseudonym: what equipment status consults (equipment-status.ts).
  CREATE TABLE ledger_peer_flags (
    subject     BLOB NOT NULL CHECK (length(subject) = 32),
    log         INTEGER NOT NULL REFERENCES ledger_logs(id),
    seq         INTEGER NOT NULL,          -- the raising entry
    kind        TEXT NOT NULL CHECK (kind IN ('stolen', 'lost', 'authority', 'clone', 'tampered')),
    at          INTEGER NOT NULL,          -- the entry's ts
    cleared_seq INTEGER,                   -- the originator's found / cleared entry
    PRIMARY KEY (subject, log, seq)
  ) WITHOUT ROWID;
  CREATE INDEX ledger_peer_flags_entry ON ledger_peer_flags(log, seq);

  CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries
    BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
  CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries
    BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
  CREATE TRIGGER ledger_nodes_no_update BEFORE UPDATE ON ledger_nodes
    BEGIN SELECT RAISE(ABORT, 'ledger nodes are append-only'); END;
  CREATE TRIGGER ledger_nodes_no_delete BEFORE DELETE ON ledger_nodes
    BEGIN SELECT RAISE(ABORT, 'ledger nodes are append-only'); END;
  CREATE TRIGGER ledger_heads_no_update BEFORE UPDATE ON ledger_heads
    BEGIN SELECT RAISE(ABORT, 'ledger heads are append-only'); END;
  CREATE TRIGGER ledger_heads_no_delete BEFORE DELETE ON ledger_heads
    BEGIN SELECT RAISE(ABORT, 'ledger heads are append-only'); END;
  CREATE TRIGGER ledger_alarms_no_delete BEFORE DELETE ON ledger_alarms
    BEGIN SELECT RAISE(ABORT, 'ledger alarms are kept'); END;
`;
