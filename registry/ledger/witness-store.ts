// A witness's state in its own SQLite file (WAL, synchronous=FULL): the latest checkpoint it
// cosigned per log origin. Rows only move forward (witness.ts checks consistency first).
import Database from "better-sqlite3";
import type { WitnessStore, WitnessedLog } from "./witness.js";

export class SqliteWitnessStore implements WitnessStore {
  readonly #db: Database.Database;
  readonly #get: Database.Statement;
  readonly #put: Database.Statement;

  constructor(path: string) {
    this.#db = new Database(path);
    this.#db.pragma("journal_mode = WAL");
    this.#db.pragma("synchronous = FULL");
    this.#db.exec("CREATE TABLE IF NOT EXISTS witness_logs (origin TEXT PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL, checkpoint TEXT NOT NULL, at INTEGER NOT NULL) STRICT");
    this.#get = this.#db.prepare("SELECT size, root FROM witness_logs WHERE origin = ?");
    this.#put = this.#db.prepare("INSERT INTO witness_logs (origin, size, root, checkpoint, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root, checkpoint = excluded.checkpoint, at = excluded.at");
  }

  get(origin: string): WitnessedLog | undefined {
    const r = this.#get.get(origin) as { size: number; root: Buffer } | undefined;
    return r ? { size: r.size, root: new Uint8Array(r.root) } : undefined;
  }

  put(origin: string, size: number, root: Uint8Array, note: string, at: number): void {
    this.#put.run(origin, size, Buffer.from(root), note, at);
  }

  close(): void {
    this.#db.close();
  }
}
