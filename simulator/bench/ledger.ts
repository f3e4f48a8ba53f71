// Benchmark section "ledger", on real SQLite files (WAL):
// - ledger_append_per_s: signed entries appended AND proved: entries are appended in batches of
//   LEDGER_BATCH inside one transaction each (as the registry's group commit does, synchronous=FULL,
//   so every batch is an fsync), a tree head is signed per batch, then every entry of the batch gets
//   its inclusion proof from SQLite and the proof is verified against the head.
// - ledger_proof_ms: p50 (and p99) time to produce an inclusion proof from the SQLite node store
//   of a log of LEDGER_BENCH_ENTRIES (default 1,000,000) entries, and to verify it.
//   The 1M-entry log is built by a bulk path: the same LocalLog.append (each entry signed with
//   Ed25519, its leaf and the subtrees it closes stored) called in transactions of 20,000 entries
//   with synchronous=OFF for the build only - no HTTP, no request parsing, no group commit. The file
//   is kept in the OS temp folder and reused by later runs once its signed head and root check out.
// - ledger_integrate_p99_ms: from a flag to a checkpoint including it cosigned by two C2SP
//   witnesses (ledger-integrate.ts).
import { createHash, randomBytes } from "node:crypto";
import { existsSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { privateKeyFromSeed } from "../../attestation/index.js";
import { equalBytes } from "../../attestation/bytes.js";
import { signingKey, type SigningKey } from "../../registry/keys.js";
import { Store } from "../../registry/store.js";
import { LedgerDb } from "../../registry/ledger/ledger-db.js";
import { LocalLog } from "../../registry/ledger/local-log.js";
import { FederationKey } from "../../registry/ledger/pseudonym.js";
import { verifyInclusion, verifyConsistency } from "../../registry/ledger/verify.js";
import type { MeasureOptions } from "./measure.js";
import { benchIntegrate } from "./ledger-integrate.js";
import type { Figures } from "./crypto.js";

export const LEDGER_BATCH = 100;
const BUILD_TX = 20_000;
const FORMAT = "v1"; // bump when the entry or tree format changes: old cached files are rebuilt

const round = (x: number, digits = 0) => Number(x.toFixed(digits));

function imeiOf(i: number): string {
  const tacSnr = `35693803${String(i % 1_000_000).padStart(6, "0")}`;
  let sum = 0;
  for (let k = 0; k < 14; k++) {
    let d = tacSnr.charCodeAt(13 - k) - 48;
    if (k % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return tacSnr + String((10 - (sum % 10)) % 10);
}

function open(path: string, key: SigningKey, fk: FederationKey): { store: Store; log: LocalLog } {
  const store = Store.open(path);
  const ldb = new LedgerDb(store.db);
  const row = ldb.tx(() => ldb.logs.ensure(key.kid, key.publicKey, "bench", true));
  let t = 1_700_000_000_000;
  return { store, log: new LocalLog(ldb, row, key, fk, () => t++) };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function appendAndProve(opts: MeasureOptions, key: SigningKey, fk: FederationKey): Promise<number> {
  const path = join(tmpdir(), `antitheft-ledger-append-${process.pid}.sqlite`);
  const { store, log } = open(path, key, fk);
  try {
    const batch = (): number => {
      const added: { seq: number; cose: Uint8Array }[] = [];
      store.tx(() => {
        for (let i = 0; i < LEDGER_BATCH; i++) added.push(log.append({ ev: "stolen", imeis: [imeiOf(log.size() + i)], by: "owner" }));
      });
      const head = log.head();
      for (const a of added) {
        if (!verifyInclusion(a.cose, a.seq, head.size, log.ldb.tree.inclusion(log.row.id, a.seq, head.size), head.root)) throw new Error("an inclusion proof failed");
      }
      return added.length;
    };
    const warm = performance.now() + opts.warmup * 1000;
    while (performance.now() < warm) batch();
    let n = 0;
    const start = performance.now();
    const end = start + opts.seconds * 1000;
    while (performance.now() < end) n += batch();
    return n / ((performance.now() - start) / 1000);
  } finally {
    store.close();
    for (const s of ["", "-wal", "-shm"]) rmSync(path + s, { force: true });
  }
}

/** The cached big log, or a fresh one built by the bulk path. */
function bigLog(entries: number, key: SigningKey, fk: FederationKey): { store: Store; log: LocalLog; buildS: number | string; path: string } {
  const path = join(tmpdir(), `antitheft-ledger-bench-${FORMAT}-${entries}.sqlite`);
  if (existsSync(path)) {
    const o = open(path, key, fk);
    const check = o.log.selfCheck();
    const head = o.log.ldb.heads.latest(o.log.row.id);
    if (check.ok && head?.size === entries && o.log.size() === entries) return { ...o, buildS: "cached", path };
    o.store.close();
    for (const s of ["", "-wal", "-shm"]) rmSync(path + s, { force: true });
  }
  const o = open(path, key, fk);
  o.store.db.pragma("synchronous = OFF"); // the build only; the figures below read
  o.store.db.pragma("cache_size = -262144");
  const t0 = performance.now();
  for (let done = 0; done < entries; ) {
    const n = Math.min(BUILD_TX, entries - done);
    o.store.tx(() => {
      for (let i = 0; i < n; i++) o.log.append({ ev: i % 7 === 0 ? "lost" : "stolen", imeis: [imeiOf(done + i)], by: "owner" });
    });
    done += n;
    if (process.stderr.isTTY) process.stderr.write(`\r  building the ${entries.toLocaleString("en-US")}-entry log: ${done.toLocaleString("en-US")}`);
  }
  o.log.head();
  if (process.stderr.isTTY) process.stderr.write("\n");
  o.store.db.pragma("synchronous = FULL");
  return { ...o, buildS: round((performance.now() - t0) / 1000, 1), path };
}

export async function benchLedger(opts: MeasureOptions): Promise<Figures> {
  const key = signingKey(privateKeyFromSeed(new Uint8Array(createHash("sha256").update("antitheft ledger bench key").digest())));
  const fk = new FederationKey(new Uint8Array(createHash("sha256").update("antitheft ledger bench federation").digest()));
  const appendPerS = await appendAndProve(opts, key, fk);
  const integrate = await benchIntegrate();

  const entries = Number(process.env.LEDGER_BENCH_ENTRIES ?? 1_000_000);
  if (!Number.isSafeInteger(entries) || entries < 2) throw new Error("LEDGER_BENCH_ENTRIES must be an integer >= 2");
  const big = bigLog(entries, key, fk);
  try {
    const { log } = big;
    const head = log.ldb.heads.latest(log.row.id)!;
    const tree = log.ldb.tree;
    const id = log.row.id;
    const rounds = 2000;
    const proofMs: number[] = [];
    const verifyMs: number[] = [];
    const consistencyMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const i = randomBytes(4).readUInt32LE() % entries;
      const t0 = performance.now();
      const path = tree.inclusion(id, i, head.size);
      const t1 = performance.now();
      const ok = verifyInclusion(tree.entry(id, i)!, i, head.size, path, head.root);
      const t2 = performance.now();
      if (!ok) throw new Error(`the inclusion proof of entry ${i} does not verify`);
      if (r >= 100) {
        proofMs.push(t1 - t0);
        verifyMs.push(t2 - t1);
      }
      if (r % 10 === 0) {
        const first = 1 + (i % (entries - 1));
        const c0 = performance.now();
        const c = tree.consistency(id, first, head.size);
        consistencyMs.push(performance.now() - c0);
        if (!verifyConsistency(first, head.size, tree.root(id, first), head.root, c)) throw new Error("a consistency proof does not verify");
      }
    }
    if (!equalBytes(tree.root(id, head.size), head.root)) throw new Error("the big log's root changed");
    proofMs.sort((a, b) => a - b);
    verifyMs.sort((a, b) => a - b);
    consistencyMs.sort((a, b) => a - b);
    return {
      ledger_append_per_s: round(appendPerS),
      ledger_append_batch: LEDGER_BATCH,
      ledger_proof_ms: round(percentile(proofMs, 50), 3),
      ledger_integrate_p99_ms: round(integrate.p99, 1),
      ledger_integrate_p50_ms: round(integrate.p50, 1),
      ledger_integrate_flags: integrate.flags,
      ledger_proof_p99_ms: round(percentile(proofMs, 99), 3),
      ledger_proof_verify_ms: round(percentile(verifyMs, 50), 3),
      ledger_consistency_proof_ms: round(percentile(consistencyMs, 50), 3),
      ledger_proof_entries: entries,
      ledger_proof_path_hashes: tree.inclusion(id, entries >> 1, head.size).length,
      ledger_build_s: big.buildS,
      ledger_db_mib: round(statSync(big.path).size / 1048576, 1),
    };
  } finally {
    big.store.close();
  }
}
