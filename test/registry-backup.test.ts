// `antitheft registry backup` (online, while the registry runs) and `restore` (refused while the
// registry runs), and what docs/PROTOCOL.md §4.6 promises after a restore to an older database:
// the handset, which applied commands the restored registry never issued, REJECTS the next
// command's stale sequence number with a token showing its last one, and the registry issues the
// same lock again above it - the owner reports once and the phone locks.
// Real components: the CLI registry as a child process, aedes, a handset whose agent runs the
// release TA on a folder on disk.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { startAedes, type AedesHandle } from "./support/brokers.js";
import { createWorld, Handset, Owner, RegistryProcess, runCli, testImei, twice, waitFor, type World } from "./support/e2e.js";


describe("registry backup and restore", () => {
  let world: World;
  let broker: AedesHandle;
  let registry: RegistryProcess;
  let phone: Handset;
  const alice = new Owner("alice");

  before(async () => {
    world = createWorld("at-backup-");
    broker = await startAedes();
    registry = await RegistryProcess.start({ world, broker: broker.url, protocolVersion: 4, name: "bk" });
    phone = await Handset.provision(world, "phone", testImei(7, "35693805"));
    await phone.start(broker.url, 4);
    await waitFor(async () => (await registry.equipmentStatus(phone.imei)) === "WHITELISTED", "enrolment");
    assert.equal((await alice.claim(registry, phone)).status, 200);
  });

  after(async () => {
    await phone?.stop();
    await registry?.stop();
    await broker?.stop();
    world?.cleanup();
  });

  const backupFile = () => join(world.dir, "backup.sqlite");

  test("backup while the registry runs: a checked, consistent copy; an existing file is kept without --force", () => {
    const r = runCli(["registry", "backup", "--db", registry.db, "--out", backupFile()]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /backed up .* bytes, schema \d+, 1 devices/);
    const db = new Database(backupFile(), { readonly: true });
    try {
      assert.equal(db.pragma("integrity_check", { simple: true }), "ok");
      assert.equal((db.prepare("SELECT count(*) AS n FROM owners WHERE until IS NULL").get() as { n: number }).n, 1, "the claim is in the copy");
    } finally {
      db.close();
    }
    const again = runCli(["registry", "backup", "--db", registry.db, "--out", backupFile()]);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /^error E_EXISTS: /);
    // The registry's config file names the database too.
    const config = join(world.dir, "registry.json");
    writeFileSync(config, JSON.stringify({ db: registry.db, broker: broker.url }));
    const viaConfig = runCli(["registry", "backup", "--config", config, "--out", join(world.dir, "b2.sqlite")]);
    assert.equal(viaConfig.status, 0, viaConfig.stderr);
  });

  test("after the backup the phone is locked and unlocked (its TA accepts sequence numbers 1 and 2)", async () => {
    assert.equal((await twice(() => alice.send(registry, { type: "report-stolen", imei: phone.imei }))).status, 200);
    await waitFor(() => phone.view().lock === 2, "locked");
    assert.equal((await twice(() => alice.send(registry, { type: "found", imei: phone.imei }))).status, 200);
    await waitFor(() => phone.view().lock === 0 && phone.view().seq === 2, "unlocked at sequence 2");
    await waitFor(async () => (await twice(() => registry.device(phone.imei))).devices[0]!.pendingCommand === null, "the unlock's result at the registry");
  });

  test("restore is refused while the registry runs (E_DB_IN_USE), and a broken backup is refused", () => {
    const r = runCli(["registry", "restore", "--db", registry.db, "--from", backupFile()]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^error E_DB_IN_USE: .*stop the registry before restoring/);
    const junk = join(world.dir, "junk.sqlite");
    writeFileSync(junk, "not a database at all, just text");
    const bad = runCli(["registry", "restore", "--db", join(world.dir, "other.sqlite"), "--from", junk]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^error E_BACKUP_INVALID: /);
  });

  test("restore with the registry stopped, then one report: the phone rejects the stale number and the registry re-issues above it", async () => {
    await registry.stop();
    const r = runCli(["registry", "restore", "--db", registry.db, "--from", backupFile()]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /the previous database is kept as .*\.replaced-/);
    assert.ok(readdirSync(world.dir).some((f) => f.startsWith("registry.sqlite.replaced-")));
    assert.equal(existsSync(`${registry.db}-wal`), false, "no WAL of the replaced database is left to be replayed into the restored one");

    await registry.restart();
    const before = (await twice(() => registry.device(phone.imei))).devices[0]!;
    assert.deepEqual(before.flags, [], "the restored database predates the report");
    const from = registry.events.length;
    assert.equal((await twice(() => alice.send(registry, { type: "report-stolen", imei: phone.imei }))).status, 200);
    const reissued = await registry.waitForEvent((e) => e.event === "command.reissued", "the lock issued again above the stale number", from, 20_000);
    assert.equal(reissued.stale, 1, "the restored registry first issued sequence number 1 again");
    assert.equal(reissued.seq, 3, "re-issued above the TA's last_seq (2)");
    await waitFor(() => phone.view().lock === 2, "the phone locked after a single report", 20_000);
    assert.equal(phone.view().seq, 3);
    await waitFor(async () => (await twice(() => registry.device(phone.imei))).devices[0]!.lockState === 2, "the registry has the verified lock");
    const rejected = registry.find((e) => e.event === "command.result" && e.status === "REJECTED");
    assert.equal(rejected.at(-1)?.seq, 1);
    assert.equal(rejected.at(-1)?.errorName, "ERR_CMD_REPLAY", "the log names the TA's reason");
  });
});
