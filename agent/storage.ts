// Storage for a simulated handset, injected (STYLE.md 9): one folder on disk for the CLI and
// the demo, or a Map in memory for fleets of thousands of devices in one process.
// Names are relative paths with "/" separators ("sealed.bin", "userdata/photos/1.jpg").
import { randomBytes } from "node:crypto";
import { link, mkdir, open, readdir, readFile, rename, rm, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";

export interface DeviceStorage {
  /** The bytes of `name`, or undefined when it does not exist. */
  read(name: string): Promise<Uint8Array | undefined>;
  /**
   * Replaces `name` atomically and durably: after a crash at any point a reader sees either the
   * old or the new content, never a mix, and a completed write survives power loss.
   */
  write(name: string, data: Uint8Array): Promise<void>;
  /** Creates `name` (atomically and durably); fails with StorageError E_EXISTS if it exists. */
  create(name: string, data: Uint8Array): Promise<void>;
  /** Removes `name` and everything under `name/`; no error when absent. */
  removeTree(name: string): Promise<void>;
  /** Names of the entries directly under `dir` ("" for the top). */
  list(dir: string): Promise<string[]>;
}

export type StorageErrorCode = "E_EXISTS" | "E_NAME" | "E_IO";

export class StorageError extends Error {
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
    this.name = "StorageError";
  }
}

/** A safe relative name: no absolute paths, no "..", no empty segments, no temp-file suffix. */
export function checkName(name: string, allowEmpty = false): string {
  if (typeof name !== "string") throw new StorageError("E_NAME", "a storage name must be a string");
  if (allowEmpty && name === "") return name;
  const parts = name.split("/");
  if (name.length > 1024 || parts.some((p) => p === "" || p === "." || p === ".." || p.includes("\\") || p.includes("\0") || p.includes(TMP_MARK))) {
    throw new StorageError("E_NAME", `invalid storage name ${JSON.stringify(name)}`);
  }
  return name;
}

const TMP_MARK = ".tmp~";

/** Files in a directory. Writes are write-temp + fsync + rename + fsync(dir). */
export class FsStorage implements DeviceStorage {
  constructor(readonly root: string) {}

  #path(name: string): string {
    return join(this.root, ...checkName(name).split("/"));
  }

  async read(name: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(this.#path(name)));
    } catch (e) {
      if (isErrno(e, "ENOENT")) return undefined;
      throw new StorageError("E_IO", `cannot read ${name}`, { cause: e });
    }
  }

  async write(name: string, data: Uint8Array): Promise<void> {
    await this.#put(name, data, false);
  }

  async create(name: string, data: Uint8Array): Promise<void> {
    await this.#put(name, data, true);
  }

  async removeTree(name: string): Promise<void> {
    try {
      await rm(this.#path(name), { recursive: true, force: true });
      await fsyncDir(dirname(this.#path(name)));
    } catch (e) {
      throw new StorageError("E_IO", `cannot remove ${name}`, { cause: e });
    }
  }

  async list(dir: string): Promise<string[]> {
    const path = dir === "" ? this.root : this.#path(dir);
    try {
      return (await readdir(path)).filter((n) => !n.includes(TMP_MARK)).sort();
    } catch (e) {
      if (isErrno(e, "ENOENT")) return [];
      throw new StorageError("E_IO", `cannot list ${dir}`, { cause: e });
    }
  }

  /** Deletes temp files a crash left behind (they are never read; this only reclaims space). */
  async removeStaleTemps(): Promise<number> {
    let n = 0;
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.name.includes(TMP_MARK)) {
          await unlink(p).catch(() => undefined);
          n++;
        }
      }
    };
    await walk(this.root);
    return n;
  }

  async #put(name: string, data: Uint8Array, exclusive: boolean): Promise<void> {
    if (!(data instanceof Uint8Array)) throw new TypeError(`data for ${name} must be a Uint8Array`);
    const path = this.#path(name);
    const dir = dirname(path);
    const tmp = `${path}${TMP_MARK}${randomBytes(6).toString("hex")}`;
    try {
      await mkdir(dir, { recursive: true });
      const fh = await open(tmp, "wx", 0o600);
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (exclusive) {
        // link(2) fails with EEXIST instead of replacing: create-once, still atomic.
        try {
          await link(tmp, path);
        } finally {
          await unlink(tmp).catch(() => undefined);
        }
      } else {
        await rename(tmp, path);
      }
      await fsyncDir(dir);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      if (isErrno(e, "EEXIST")) throw new StorageError("E_EXISTS", `${name} already exists`, { cause: e });
      if (e instanceof StorageError) throw e;
      throw new StorageError("E_IO", `cannot write ${name}`, { cause: e });
    }
  }
}

/** Everything in a Map: for fleets and tests. Copies in and out, so callers cannot alias it. */
export class MemoryStorage implements DeviceStorage {
  readonly #files = new Map<string, Uint8Array>();

  async read(name: string): Promise<Uint8Array | undefined> {
    const v = this.#files.get(checkName(name));
    return v && new Uint8Array(v);
  }

  async write(name: string, data: Uint8Array): Promise<void> {
    if (!(data instanceof Uint8Array)) throw new TypeError(`data for ${name} must be a Uint8Array`);
    this.#files.set(checkName(name), new Uint8Array(data));
  }

  async create(name: string, data: Uint8Array): Promise<void> {
    if (this.#files.has(checkName(name))) throw new StorageError("E_EXISTS", `${name} already exists`);
    await this.write(name, data);
  }

  async removeTree(name: string): Promise<void> {
    checkName(name);
    for (const k of [...this.#files.keys()]) if (k === name || k.startsWith(name + "/")) this.#files.delete(k);
  }

  async list(dir: string): Promise<string[]> {
    const prefix = checkName(dir, true) === "" ? "" : dir + "/";
    const out = new Set<string>();
    for (const k of this.#files.keys()) if (k.startsWith(prefix)) out.add(k.slice(prefix.length).split("/")[0]!);
    return [...out].sort();
  }

  /** Total bytes held (for memory accounting in fleet benchmarks). */
  get byteLength(): number {
    let n = 0;
    for (const v of this.#files.values()) n += v.length;
    return n;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  // Makes the rename durable (POSIX: the directory entry lives in the directory).
  let fh;
  try {
    fh = await open(dir, "r");
    await fh.sync();
  } catch (e) {
    // Some platforms cannot open or fsync a directory; the rename is still atomic there.
    if (!isErrno(e, "EISDIR") && !isErrno(e, "EINVAL") && !isErrno(e, "EPERM") && !isErrno(e, "EACCES")) throw e;
  } finally {
    await fh?.close();
  }
}

function isErrno(e: unknown, code: string): boolean {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === code;
}
