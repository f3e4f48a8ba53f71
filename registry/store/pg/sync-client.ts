// A synchronous PostgreSQL connection for the registry's synchronous store (docs/STORAGE.md §2).
// The `pg` driver is asynchronous; the registry's tables, like better-sqlite3 under them, are
// synchronous. This client runs the driver in a worker thread (store/pg/worker.ts) and blocks
// the calling thread in Atomics.wait until the answer is back, then takes it off the port with
// receiveMessageOnPort. Each query costs one round trip to the server plus two thread hops; the
// event loop waits for it, as it waits for SQLite's fsync today.
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort as NodePort } from "node:worker_threads";
import type { Reply, Request, WorkerInit } from "./worker.js";

/** A query failed: `code` is PostgreSQL's SQLSTATE (40001 serialization failure, 23505 unique violation, ...). */
export class PgError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = "PgError";
  }
}

export interface QueryResult {
  readonly rows: Record<string, unknown>[];
  readonly fields: string[];
  readonly rowCount: number;
}

/** Longest wait for one answer: above the server's statement_timeout (30 s, worker.ts). */
const ANSWER_TIMEOUT_MS = 60_000;

export class SyncPg {
  readonly #worker: Worker;
  readonly #port: NodePort;
  readonly #signal: Int32Array;
  #open = true;

  /** Connects to `url` (postgres://...); `channel` is the LISTEN channel counted in `generation`. */
  constructor(url: string, channel: string) {
    const sab = new SharedArrayBuffer(8);
    this.#signal = new Int32Array(sab);
    const { port1, port2 } = new MessageChannel();
    const init: WorkerInit = { url, signal: sab, port: port2, channel };
    this.#worker = new Worker(new URL("./worker.js", import.meta.url), { workerData: init, transferList: [port2] });
    this.#worker.unref(); // a forgotten store does not keep the process alive
    this.#port = port1;
    try {
      this.exec("SELECT 1"); // connect now: a wrong URL fails here, at open
    } catch (e) {
      this.#open = false;
      void this.#worker.terminate();
      throw e;
    }
  }

  /** Notifications received on the channel so far (read without a round trip). */
  get generation(): number {
    return Atomics.load(this.#signal, 1);
  }

  get open(): boolean {
    return this.#open;
  }

  /** Runs one statement; a `name` makes it a prepared statement of this connection. */
  query(text: string, values: readonly unknown[], name?: string): QueryResult {
    return this.#call({ op: "query", text, values, ...(name ? { name } : {}) });
  }

  /** Runs one or more statements without parameters (simple query protocol). */
  exec(text: string): void {
    this.#call({ op: "exec", text });
  }

  close(): void {
    if (!this.#open) return;
    try {
      this.#call({ op: "close" });
    } catch {
      // closing a broken connection: nothing left to release but the thread
    }
    this.#open = false;
    void this.#worker.terminate();
  }

  #call(req: Request): QueryResult {
    if (!this.#open) throw new PgError("the database connection is closed", "08003");
    const before = Atomics.load(this.#signal, 0);
    this.#port.postMessage(req);
    const port = this.#port;
    const deadline = Date.now() + ANSWER_TIMEOUT_MS;
    for (;;) {
      const got = receiveMessageOnPort(port);
      if (got) {
        const r = got.message as Reply;
        if (!r.ok) throw new PgError(r.message, r.code);
        return { rows: r.rows.map(buffers), fields: r.fields, rowCount: r.rowCount };
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new PgError(`no answer from the database in ${ANSWER_TIMEOUT_MS} ms`, "57014");
      Atomics.wait(this.#signal, 0, before, left);
    }
  }
}

/** bytea values cross the thread boundary as Uint8Array; the tables expect Buffers, as better-sqlite3 returns. */
function buffers(r: Record<string, unknown>): Record<string, unknown> {
  for (const k in r) {
    const v = r[k];
    if (v instanceof Uint8Array && !Buffer.isBuffer(v)) r[k] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
  return r;
}
