// A throwaway PostgreSQL cluster for tests and benchmarks: initdb in a temp folder, the server
// on a free loopback port with its socket in that folder, trust authentication, stopped
// (immediate) and removed on stop. PostgreSQL refuses to run as root, so as root (CI) the
// cluster belongs to the `postgres` user Debian's package creates and the tools run through
// runuser.
import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "./broker-process.js";

const run = promisify(execFile);

export interface PgCluster {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  readonly url: string;
  /** Creates an empty database and returns its URL. */
  createDb(name?: string): Promise<string>;
  /** Stops the server (fast shutdown: sessions are ended) and keeps its data folder and port. */
  stopServer(): Promise<void>;
  /** Starts the server again on the same port and data folder (after stopServer). */
  startServer(): Promise<void>;
  stop(): Promise<void>;
}

/** The folder of initdb and pg_ctl (Debian: /usr/lib/postgresql/<major>/bin), if installed. */
export function postgresBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const m of majors) if (existsSync(join(root, m, "bin", "initdb"))) return join(root, m, "bin");
  return undefined;
}

let counter = 0;

export async function startPostgres(bin: string): Promise<PgCluster> {
  const dir = mkdtempSync(join(tmpdir(), "at-pg-"));
  const asRoot = userInfo().uid === 0;
  const tool = (name: string, args: string[]) => (asRoot ? run("runuser", ["-u", "postgres", "--", join(bin, name), ...args]) : run(join(bin, name), args));
  if (asRoot) chownSync(dir, Number((await run("id", ["-u", "postgres"])).stdout.trim()), Number((await run("id", ["-g", "postgres"])).stdout.trim()));
  const data = join(dir, "data");
  await tool("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
  let port = 0;
  const start = () => {
    const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=100 -c shared_buffers=32MB`;
    return tool("pg_ctl", ["-D", data, "-o", opts, "-l", join(dir, "server.log"), "-w", "-t", "60", "start"]);
  };
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await start();
      break;
    } catch (e) {
      if (attempt >= 2) throw e; // a port taken between freePort() and the server's bind
    }
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let stopped = false;
  return {
    url,
    createDb(name = `t${process.pid}_${++counter}_${Date.now() % 1e6}`) {
      return createDatabase(url, name);
    },
    async stopServer() {
      await tool("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]);
    },
    async startServer() {
      await start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await tool("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Creates database `name` on the cluster of `url` (any database URL of it); answers its URL. */
export async function createDatabase(url: string, name: string): Promise<string> {
  const c = new pg.Client(url);
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  return url.replace(/\/[^/]*$/, `/${name}`);
}
