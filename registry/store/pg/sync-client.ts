// A synchronous PostgreSQL connection for the registry's synchronous store (docs/STORAGE.md §2).
// The `pg` driver is asynchronous; the registry's tables, like better-sqlite3 under them, are
// synchronous. This client runs the driver in a worker thread (store/pg/worker.ts) and blocks
// the calling thread in Atomics.wait until the answer is back, then takes it off the port with
// receiveMessageOnPort. Each query costs one round trip to the server plus two thread hops; the
// event loop waits for it, as it waits for SQLite's fsync today.
// The worker reconnects by itself after a lost connection (worker.ts, docs/STORAGE.md §7): the
// state (`connected`, `epoch`) is read from shared memory without a round trip, and changes are
// delivered to `onState` listeners on the event loop.
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort as NodePort } from "node:worker_threads";
import { SIG, SIG_BYTES, type Reply, type Request, type StateEvent, type WorkerInit } from "./bridge.js";

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

/** Reconnect backoff of the worker (default 50 ms doubling up to 5 s). */
export interface ReconnectOptions {
  readonly minMs: number;
  readonly maxMs: number;
}

export interface SyncPgOptions {
  readonly reconnect?: ReconnectOptions;
  /** No answer from the server to a statement after this long: the connection is dead (default 35 s, above statement_timeout). */
  readonly answerTimeoutMs?: number;
}

export class SyncPg {
  readonly #worker: Worker;
  readonly #port: NodePort;
  readonly #signal: Int32Array;
  readonly #listeners = new Set<(e: StateEvent) => void>();
  #open = true;
  /** Requests carry this epoch while set: they run on that connection or not at all (a transaction's statements). */
  pin: number | undefined;
  /** The connection epoch the last successful answer ran on. */
  lastEpoch = 0;

  /** Connects to `url` (postgres://...); `channel` is the LISTEN channel counted in `generation`. */
  constructor(url: string, channel: string, o: SyncPgOptions = {}) {
    const sab = new SharedArrayBuffer(SIG_BYTES);
    this.#signal = new Int32Array(sab);
    const { port1, port2 } = new MessageChannel();
    const init: WorkerInit = { url, signal: sab, port: port2, channel, ...o };
    this.#worker = new Worker(new URL("./worker.js", import.meta.url), { workerData: init, transferList: [port2] });
    this.#worker.unref(); // a forgotten store does not keep the process alive
    this.#worker.on("message", (m: unknown) => {
      if (typeof m !== "object" || m === null) return; // "started"
      for (const l of this.#listeners) l(m as StateEvent);
    });
    this.#port = port1;
    try {
      this.exec("SELECT 1"); // connect now: a wrong URL fails here, at open
    } catch (e) {
      this.#open = false;
      void this.#worker.terminate();
      throw e;
    }
  }

  /** Notifications received on the channel so far, plus connection losses and reconnects (read without a round trip). */
  get generation(): number {
    return Atomics.load(this.#signal, SIG.GENERATION);
  }

  /** Whether the worker's connection is up now (false while it reconnects). */
  get connected(): boolean {
    return Atomics.load(this.#signal, SIG.UP) === 1;
  }

  /** The current connection's number: 1 for the first, +1 on each reconnect. */
  get epoch(): number {
    return Atomics.load(this.#signal, SIG.EPOCH);
  }

  /** Calls `fn` on each connection loss and reconnect (on the event loop); returns the unsubscribe. */
  onState(fn: (e: StateEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  get open(): boolean {
    return this.#open;
  }

  /** Runs one statement; a `name` makes it a prepared statement of this connection. */
  query(text: string, values: readonly unknown[], name?: string): QueryResult {
    return this.#call({ op: "query", text, values, ...(name ? { name } : {}), ...(this.pin !== undefined ? { epoch: this.pin } : {}) });
  }

  /** Runs one or more statements without parameters (simple query protocol). */
  exec(text: string): void {
    this.#call({ op: "exec", text, ...(this.pin !== undefined ? { epoch: this.pin } : {}) });
  }

  close(): void {
    if (!this.#open) return;
    try {
      this.#call({ op: "close" });
    } catch {
      // closing a broken connection: nothing left to release but the thread
    }
    this.#open = false;
    this.#listeners.clear();
    void this.#worker.terminate();
  }

  #call(req: Request): QueryResult {
    if (!this.#open) throw new PgError("the database connection is closed", "08003");
    const before = Atomics.load(this.#signal, SIG.ANSWERS);
    this.#port.postMessage(req);
    const port = this.#port;
    const deadline = Date.now() + ANSWER_TIMEOUT_MS;
    for (;;) {
      const got = receiveMessageOnPort(port);
      if (got) {
        const r = got.message as Reply;
        if (!r.ok) throw new PgError(r.message, r.code);
        this.lastEpoch = r.epoch;
        return { rows: r.rows.map(buffers), fields: r.fields, rowCount: r.rowCount };
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new PgError(`no answer from the database in ${ANSWER_TIMEOUT_MS} ms`, "57014");
      Atomics.wait(this.#signal, SIG.ANSWERS, before, left);
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
