import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeviceFolder, DeviceFolderError, FILES } from "../agent/device-folder.js";
import { FsStorage, MemoryStorage, StorageError, type DeviceStorage } from "../agent/storage.js";

const bytes = (...v: number[]) => Uint8Array.from(v);

/** Records every write and can fail the n-th one (a crash or a full disk at that point). */
class FaultyStorage implements DeviceStorage {
  readonly writes: string[] = [];
  failOn: ((name: string) => boolean) | undefined;
  constructor(readonly inner: DeviceStorage) {}
  read(name: string) {
    return this.inner.read(name);
  }
  async write(name: string, data: Uint8Array) {
    if (this.failOn?.(name)) throw new StorageError("E_IO", `injected failure writing ${name}`);
    this.writes.push(name);
    await this.inner.write(name, data);
  }
  async create(name: string, data: Uint8Array) {
    if (this.failOn?.(name)) throw new StorageError("E_IO", `injected failure creating ${name}`);
    this.writes.push(name);
    await this.inner.create(name, data);
  }
  removeTree(name: string) {
    return this.inner.removeTree(name);
  }
  list(dir: string) {
    return this.inner.list(dir);
  }
}

async function withTempDir(f: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "at-folder-"));
  try {
    await f(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

for (const kind of ["memory", "fs"] as const) {
  const make = async (dir: string) => (kind === "memory" ? new MemoryStorage() : new FsStorage(dir));

  test(`${kind}: commit persists the blob first, then the counter`, () =>
    withTempDir(async (dir) => {
      const s = new FaultyStorage(await make(dir));
      const f = new DeviceFolder(s);
      await f.commit(bytes(1, 2, 3), 1);
      await f.commit(bytes(4, 5, 6), 2);
      assert.deepEqual(s.writes, [FILES.sealed, FILES.counter, FILES.sealed, FILES.counter]);
      assert.deepEqual(await f.readSealed(), bytes(4, 5, 6));
      assert.equal(await f.readCounter(), 2);
    }));

  test(`${kind}: a crash between blob and counter leaves blob version = counter + 1, never a rollback`, () =>
    withTempDir(async (dir) => {
      const s = new FaultyStorage(await make(dir));
      const f = new DeviceFolder(s);
      await f.commit(bytes(1), 5);
      s.failOn = (n) => n === FILES.counter;
      await assert.rejects(f.commit(bytes(2), 6), (e: unknown) => e instanceof DeviceFolderError && e.code === "E_STORAGE");
      assert.deepEqual(await f.readSealed(), bytes(2), "the new blob is stored");
      assert.equal(await f.readCounter(), 5, "the counter was not advanced: the TA sees version == counter + 1");
      s.failOn = (n) => n === FILES.sealed;
      await assert.rejects(f.commit(bytes(3), 7));
      assert.deepEqual(await f.readSealed(), bytes(2), "a failed blob write advances nothing");
      assert.equal(await f.readCounter(), 5);
    }));

  test(`${kind}: the counter is monotonic; a lower value is refused before anything is written`, () =>
    withTempDir(async (dir) => {
      const s = new FaultyStorage(await make(dir));
      const f = new DeviceFolder(s);
      await f.commit(bytes(9), 3);
      const writes = s.writes.length;
      await assert.rejects(f.commit(bytes(8), 2), (e: unknown) => e instanceof DeviceFolderError && e.code === "E_COUNTER_ROLLBACK");
      assert.equal(s.writes.length, writes);
      assert.deepEqual(await f.readSealed(), bytes(9));
      assert.equal(await f.readCounter(), 3);
      await assert.rejects(f.commit(bytes(8), -1), RangeError);
      await assert.rejects(f.commit(bytes(8), 2 ** 32), RangeError);
      await assert.rejects(f.commit(new Uint8Array(0), 4), TypeError);
    }));

  test(`${kind}: the fuse is written once`, () =>
    withTempDir(async (dir) => {
      const f = new DeviceFolder(await make(dir));
      assert.equal(await f.isProvisioned(), false);
      await assert.rejects(f.readHuk(), (e: unknown) => e instanceof DeviceFolderError && e.code === "E_NOT_PROVISIONED");
      const huk = new Uint8Array(32).fill(7);
      await f.writeHuk(huk);
      assert.equal(await f.isProvisioned(), true);
      await assert.rejects(f.writeHuk(new Uint8Array(32).fill(9)), (e: unknown) => e instanceof DeviceFolderError && e.code === "E_ALREADY_PROVISIONED");
      assert.deepEqual(await f.readHuk(), huk);
      await assert.rejects(f.writeHuk(new Uint8Array(31)), RangeError);
    }));

  test(`${kind}: factory reset wipes userdata/ and nothing else`, () =>
    withTempDir(async (dir) => {
      const f = new DeviceFolder(await make(dir));
      await f.writeHuk(new Uint8Array(32).fill(1));
      await f.commit(bytes(1, 2), 1);
      await f.writeEndorsement(bytes(0xd2));
      await f.writeUserData("photos/cat.jpg", bytes(1));
      await f.writeUserData("contacts.db", bytes(2));
      assert.deepEqual(await f.listUserData(), ["contacts.db", "photos"]);
      await f.wipeUserData();
      assert.deepEqual(await f.listUserData(), []);
      assert.deepEqual(await f.readSealed(), bytes(1, 2));
      assert.equal(await f.readCounter(), 1);
      assert.equal((await f.readHuk()).length, 32);
      assert.deepEqual(await f.readEndorsement(), bytes(0xd2));
    }));

  test(`${kind}: corrupt counter and device.json are typed errors; names cannot escape the folder`, () =>
    withTempDir(async (dir) => {
      const st = await make(dir);
      const f = new DeviceFolder(st);
      for (const bad of ["-1", "1e3", "abc", "2147483648", "01"]) {
        await st.write(FILES.counter, new TextEncoder().encode(bad));
        await assert.rejects(f.readCounter(), (e: unknown) => e instanceof DeviceFolderError && e.code === "E_FOLDER_CORRUPT", bad);
      }
      await st.write(FILES.info, new TextEncoder().encode("{not json"));
      await assert.rejects(f.readInfo(), (e: unknown) => e instanceof DeviceFolderError && e.code === "E_FOLDER_CORRUPT");
      await st.write(FILES.info, new TextEncoder().encode(JSON.stringify({ did: "zz", imei: "1", model: "m", oemId: "" })));
      await assert.rejects(f.readInfo(), (e: unknown) => e instanceof DeviceFolderError && e.code === "E_FOLDER_CORRUPT");
      for (const name of ["../x", "/etc/passwd", "a//b", "a/../b", "", "x.tmp~1"]) {
        await assert.rejects(st.write(name, bytes(1)), (e: unknown) => e instanceof StorageError && e.code === "E_NAME", name);
      }
      // an unreadable agent record counts as none (bookkeeping only)
      await st.write(FILES.agentState, new TextEncoder().encode("]"));
      assert.deepEqual(await f.readAgentState(), {});
      await f.writeAgentState({ accepted: { seq: 3, digest: "ab".repeat(32) } });
      assert.deepEqual(await f.readAgentState(), { pending: undefined, accepted: { seq: 3, digest: "ab".repeat(32) } });
    }));
}

test("fs: a write interrupted before its rename leaves the old content and only a temp file", () =>
  withTempDir(async (dir) => {
    const st = new FsStorage(dir);
    await st.write("sealed.bin", bytes(1, 1, 1));
    // What a crash between write(temp) and rename(temp, name) leaves behind:
    await writeFile(join(dir, "sealed.bin.tmp~deadbeef0000"), bytes(2, 2));
    assert.deepEqual(await st.read("sealed.bin"), bytes(1, 1, 1));
    assert.deepEqual(await st.list(""), ["sealed.bin"], "temp files are invisible");
    assert.equal(await st.removeStaleTemps(), 1);
    assert.deepEqual(await readdir(dir), ["sealed.bin"]);
    // A completed write leaves no temp file and replaces the content whole.
    await st.write("sealed.bin", bytes(3));
    assert.deepEqual(await readdir(dir), ["sealed.bin"]);
    assert.deepEqual(new Uint8Array(await readFile(join(dir, "sealed.bin"))), bytes(3));
  }));

test("fs: concurrent create-once of the fuse: exactly one wins, its bytes intact", () =>
  withTempDir(async (dir) => {
    const st = new FsStorage(dir);
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => st.create("huk.bin", new Uint8Array(32).fill(i))));
    const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
    assert.equal(won.length, 1);
    for (const r of results) if (r.status === "rejected") assert.ok(r.reason instanceof StorageError && r.reason.code === "E_EXISTS");
    assert.deepEqual(await st.read("huk.bin"), new Uint8Array(32).fill(won[0]!));
    assert.deepEqual(await readdir(dir), ["huk.bin"], "no temp files left behind");
  }));

test("memory storage copies in and out (callers cannot alias its contents)", async () => {
  const st = new MemoryStorage();
  const data = bytes(1, 2, 3);
  await st.write("a", data);
  data[0] = 9;
  const out = (await st.read("a"))!;
  assert.deepEqual(out, bytes(1, 2, 3));
  out[1] = 9;
  assert.deepEqual(await st.read("a"), bytes(1, 2, 3));
  assert.equal(st.byteLength, 3);
});
