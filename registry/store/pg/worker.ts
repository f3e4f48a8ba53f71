// The PostgreSQL connection of one registry process, in a worker thread (store/pg/sync-client.ts
// is the other end). The worker owns one `pg` client and runs the queries the main thread sends,
// one at a time, in order; after each answer it bumps `signal[0]` and wakes the main thread,
// which is blocked in Atomics.wait. It also LISTENs for the registry's flag notifications and
// counts them in `signal[1]` (the equipment-status cache's generation, docs/STORAGE.md §4).
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import pg from "pg";

export interface WorkerInit {
  readonly url: string;
  readonly signal: SharedArrayBuffer;
  readonly port: MessagePort;
  readonly channel: string;
}

export type Request =
  | { readonly op: "query"; readonly text: string; readonly values: readonly unknown[]; readonly name?: string }
  | { readonly op: "exec"; readonly text: string }
  | { readonly op: "close" };

export type Reply =
  | { readonly ok: true; readonly rows: Record<string, unknown>[]; readonly fields: string[]; readonly rowCount: number }
  | { readonly ok: false; readonly message: string; readonly code: string | undefined };

const init = workerData as WorkerInit;
const signal = new Int32Array(init.signal);

// int8 (count(*), BIGINT columns) and numeric (sum) as JavaScript numbers: the registry's
// integers (ms timestamps, sequence numbers) stay far below 2^53.
const number = (v: string): number => Number(v);
const types = {
  getTypeParser(oid: number, format?: string): (v: string) => unknown {
    if (oid === 20 || oid === 1700) return number;
    return (pg.types.getTypeParser as (o: number, f?: string) => (v: string) => unknown)(oid, format);
  },
};

const client = new pg.Client({ connectionString: init.url, types: types as never });
let ready: Promise<void> | undefined;
let failed: Error | undefined;
client.on("error", (e) => (failed = e));
client.on("notification", () => {
  Atomics.add(signal, 1, 1);
});

async function connect(): Promise<void> {
  await client.connect();
  await client.query("SET default_transaction_isolation = 'read committed'");
  await client.query("SET statement_timeout = 30000");
  await client.query(`LISTEN ${init.channel}`);
}

function answer(r: Reply): void {
  init.port.postMessage(r);
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}

/** Booleans as 0/1, as SQLite returns them (EXISTS(...), comparisons). */
function row(r: Record<string, unknown>): Record<string, unknown> {
  for (const k in r) if (typeof r[k] === "boolean") r[k] = r[k] ? 1 : 0;
  return r;
}

async function handle(m: Request): Promise<Reply> {
  if (failed) return { ok: false, message: `the database connection failed: ${failed.message}`, code: "08006" };
  ready ??= connect();
  await ready;
  if (m.op === "close") {
    await client.end();
    return { ok: true, rows: [], fields: [], rowCount: 0 };
  }
  if (m.op === "exec") {
    await client.query(m.text);
    return { ok: true, rows: [], fields: [], rowCount: 0 };
  }
  // a named statement is parsed and planned once per connection (PostgreSQL "PREPARE")
  const r = await client.query({ text: m.text, values: m.values as unknown[], ...(m.name ? { name: m.name } : {}) });
  return { ok: true, rows: r.rows.map(row), fields: r.fields.map((f) => f.name), rowCount: r.rowCount ?? 0 };
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
