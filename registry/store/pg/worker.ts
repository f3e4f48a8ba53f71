// The PostgreSQL connection of one registry process, in a worker thread (store/pg/sync-client.ts
// is the other end). The worker owns one `pg` client and runs the queries the main thread sends,
// one at a time, in order; after each answer it bumps `signal[0]` and wakes the main thread,
// which is blocked in Atomics.wait. It also LISTENs for the registry's flag notifications and
// counts them in `signal[1]` (the equipment-status cache's generation, docs/STORAGE.md §4).
//
// Connection loss (docs/STORAGE.md §7): when the connection dies (server restart,
// pg_terminate_backend, a network cut seen by TCP keepalive) the worker marks it down, bumps the
// generation (the cache empties: notifications are lost from now on) and reconnects in the
// background with bounded exponential backoff with full jitter (agent/backoff.ts: a random pause
// up to 50 ms, doubling up to 5 s). While down, every request is answered at once with SQLSTATE 08006 ("database
// unavailable"), never queued. A new connection gets a new epoch (`signal[2]`); it LISTENs again
// BEFORE the generation is bumped once more, so a flag committed during the gap, whose
// notification was lost, empties the cache anyway. A request pinned to an epoch (a statement of a
// transaction begun on the old connection) is refused on any other: it must never run in
// autocommit on the new one.
import { parentPort, workerData } from "node:worker_threads";
import pg from "pg";
import { Backoff } from "../../../agent/backoff.js";
import { IN_DOUBT, SIG, UNAVAILABLE, type Reply, type Request, type StateEvent, type WorkerInit } from "./bridge.js";

const init = workerData as WorkerInit;
const signal = new Int32Array(init.signal);
/** Above the server's statement_timeout (30 s, below): no answer by then, the connection is dead (a silent network cut). */
const ANSWER_TIMEOUT_MS = init.answerTimeoutMs ?? 35_000;
const backoff = new Backoff({ baseMs: init.reconnect?.minMs ?? 50, capMs: init.reconnect?.maxMs ?? 5_000 });

// int8 (count(*), BIGINT columns) and numeric (sum) as JavaScript numbers: the registry's
// integers (ms timestamps, sequence numbers) stay far below 2^53.
const number = (v: string): number => Number(v);
const types = {
  getTypeParser(oid: number, format?: string): (v: string) => unknown {
    if (oid === 20 || oid === 1700) return number;
    return (pg.types.getTypeParser as (o: number, f?: string) => (v: string) => unknown)(oid, format);
  },
};

/** Server answers that end the session: admin_shutdown, crash_shutdown, cannot_connect_now. */
const SESSION_ENDED = new Set(["57P01", "57P02", "57P03"]);

let client: pg.Client | undefined; // the live connection; undefined while down
let epoch = 0; // 0: never connected
let closing = false;
let down: { error: Error; since: number; refused: number } | undefined;

async function open(): Promise<pg.Client> {
  const c = new pg.Client({
    connectionString: init.url,
    types: types as never,
    keepAlive: true, // a cut network is noticed by TCP keepalive, not only at the next query
    keepAliveInitialDelayMillis: 10_000,
    connectionTimeoutMillis: 10_000,
  });
  c.on("error", (e) => lost(c, e));
  c.on("end", () => lost(c, new Error("the server closed the connection")));
  c.on("notification", () => {
    Atomics.add(signal, SIG.GENERATION, 1);
  });
  try {
    await c.connect();
    await c.query("SET default_transaction_isolation = 'read committed'");
    await c.query("SET statement_timeout = 30000");
    await c.query(`LISTEN ${init.channel}`);
  } catch (e) {
    discard(c);
    throw e;
  }
  return c;
}

/**
 * Lets `c` go without waiting: a polite end (Terminate), and the socket destroyed a moment
 * later in case the network is silently cut and the end never completes.
 */
function discard(c: pg.Client): Promise<void> {
  c.removeAllListeners("end");
  c.on("error", () => {});
  let done = false;
  const ended = c.end().then(
    () => void (done = true),
    () => void (done = true),
  );
  const stream = (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  return Promise.race([ended, new Promise<void>((r) => setTimeout(r, 1_000).unref())]).then(() => {
    if (!done) stream?.destroy();
  });
}

function up(c: pg.Client): void {
  client = c;
  epoch++;
  Atomics.store(signal, SIG.EPOCH, epoch);
  Atomics.store(signal, SIG.UP, 1);
  Atomics.add(signal, SIG.GENERATION, 1); // after LISTEN: whatever the gap hid is recomputed
}

/** The connection `c` is gone: mark it down (once) and start reconnecting. */
function lost(c: pg.Client, e: Error): void {
  if (c !== client) return;
  client = undefined;
  Atomics.store(signal, SIG.UP, 0);
  Atomics.add(signal, SIG.GENERATION, 1);
  down = { error: e, since: Date.now(), refused: 0 };
  void discard(c);
  parentPort?.postMessage({ type: "lost", error: e.message, epoch } satisfies StateEvent);
  void reconnect();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function reconnect(): Promise<void> {
  backoff.reset();
  for (let attempt = 1; !closing; attempt++) {
    await sleep(backoff.next()); // full jitter: the processes of a deployment do not reconnect in step
    if (closing) return;
    try {
      const c = await open();
      if (closing) return void discard(c);
      const d = down;
      up(c);
      down = undefined;
      parentPort?.postMessage({ type: "restored", epoch, downMs: d ? Date.now() - d.since : 0, attempts: attempt, refused: d?.refused ?? 0 } satisfies StateEvent);
      return;
    } catch (e) {
      if (down) down.error = e as Error;
    }
  }
}

function answer(r: Reply): void {
  init.port.postMessage(r);
  Atomics.add(signal, SIG.ANSWERS, 1);
  Atomics.notify(signal, SIG.ANSWERS);
}

/** Booleans as 0/1, as SQLite returns them (EXISTS(...), comparisons). */
function row(r: Record<string, unknown>): Record<string, unknown> {
  for (const k in r) if (typeof r[k] === "boolean") r[k] = r[k] ? 1 : 0;
  return r;
}

function unavailable(detail: string, code: string = UNAVAILABLE): Reply {
  if (down) down.refused++;
  return { ok: false, message: `database unavailable: ${detail}`, code };
}

async function handle(m: Request): Promise<Reply> {
  if (m.op === "close") {
    closing = true;
    const c = client;
    client = undefined;
    if (c) await discard(c);
    return { ok: true, rows: [], fields: [], rowCount: 0, epoch };
  }
  if (epoch === 0) up(await open()); // the first connection: a failure is the caller's (a wrong URL fails at open)
  const c = client;
  if (!c) return unavailable(`the connection was lost (${down?.error.message ?? "closed"}); reconnecting`);
  if (m.epoch !== undefined && m.epoch !== epoch) return unavailable("the connection of this transaction was lost");
  try {
    if (m.op === "exec") {
      await answered(c.query(m.text));
      return { ok: true, rows: [], fields: [], rowCount: 0, epoch };
    }
    // a named statement is parsed and planned once per connection (PostgreSQL "PREPARE")
    const r = await answered(c.query({ text: m.text, values: m.values as unknown[], ...(m.name ? { name: m.name } : {}) }));
    return { ok: true, rows: r.rows.map(row), fields: r.fields.map((f) => f.name), rowCount: r.rowCount ?? 0, epoch };
  } catch (e) {
    const err = e as Error & { code?: string };
    const code = typeof err.code === "string" ? err.code : undefined;
    // The client saw the socket end (lost() already ran), or the server ended the session.
    if (client !== c || (code !== undefined && (SESSION_ENDED.has(code) || code.startsWith("08")))) {
      lost(c, err);
      // COMMIT in flight: its outcome is unknown (SQLSTATE 08007 transaction_resolution_unknown)
      const inDoubt = m.op === "query" && /^\s*COMMIT\s*$/i.test(m.text);
      return unavailable(`the connection was lost during the statement (${err.message})`, inDoubt ? IN_DOUBT : UNAVAILABLE);
    }
    throw e;
  }
}

/** `p`, or a connection failure (SQLSTATE 08006) when the server has not answered in ANSWER_TIMEOUT_MS. */
async function answered<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {}); // settled later, when the dead connection is ended
  let timer: ReturnType<typeof setTimeout> | undefined;
  const silence = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer from the server in ${ANSWER_TIMEOUT_MS} ms`), { code: UNAVAILABLE })), ANSWER_TIMEOUT_MS);
  });
  try {
    return await Promise.race([p, silence]);
  } finally {
    clearTimeout(timer);
  }
}

let chain = Promise.resolve();
init.port.on("message", (m: Request) => {
  chain = chain.then(async () => {
    try {
      answer(await handle(m));
    } catch (e) {
      const err = e as Error & { code?: string };
      answer({ ok: false, message: err.message, code: typeof err.code === "string" ? err.code : undefined });
    }
  });
});
parentPort?.postMessage("started");
