// The registry through a lost PostgreSQL connection (docs/STORAGE.md §7), end to end: a real
// cluster (simulator/postgres-cluster.ts), the registry with HTTP and MQTT (aedes), handsets over
// MQTT, signed authority requests over HTTP.
// - A full cluster restart (stop, then start on the same port and data folder): while it is down,
//   equipment status answers 500 SYSTEM_FAILURE (never an allow, also for an IMEI cached as
//   WHITELISTED), /healthz is not ready, a flag is refused with E_DB and works when sent again
//   once the database is back (exactly once: the same request again is E_REPLAY); a hello sent
//   during the outage (acknowledged by MQTT at receipt) is held and handled after it: the
//   handset enrols. The outage is logged once.
// - pg_terminate_backend of the registry's connection while a flag's transaction waits for the
//   writers' lock: the flag is refused with E_DB, sent again it is applied once.
// Without the reconnect (the worker as it was) the registry never recovered: every assertion
// after the restart failed; without the held messages the hello was lost ("hello.failed" logged)
// and the handset stayed unenrolled until its next connection.
import { test } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { buildRequest } from "../registry/request-codec.js";
import { RegistryClient } from "../registry/client.js";
import { PgDatabase, WRITER_LOCK } from "../registry/store/pg/database.js";
import { getJson, startHarness, waitFor, type Harness } from "./support/registry-sim.js";
import { needPostgres, startPostgres, type PgCluster } from "./support/postgres.js";

async function setup(t: { after(fn: () => unknown): void }, bin: string) {
  const cluster = await startPostgres(bin);
  let h: Harness | undefined;
  t.after(async () => {
    await h?.close();
    await cluster.stop();
  });
  const url = await cluster.createDb();
  h = await startHarness({ db: url });
  const harness = h;
  const db = h.registry.store.db as PgDatabase;
  const client = new RegistryClient(h.url);
  const aud = await client.audience();
  const enrol = async () => {
    const hs = harness.handset();
    const d = harness.device(hs);
    await d.connect();
    await waitFor(() => harness.registry.store.devices.get(d.did), "enrolment", 15_000);
    return { d, imei: hs.ta.id.imei };
  };
  const flagRequest = (imei: string) => buildRequest(harness.authority.signer, { type: "flag", imei, reason: "court order" }, aud);
  const eir = (imei: string) => getJson(`${harness.url}/n5g-eir-eic/v1/equipment-status?pei=imei-${imei}`);
  const flags = (imei: string) =>
    Number((harness.registry.store.db.prepare("SELECT count(*) AS n FROM flags f JOIN imei_bindings b ON b.did = f.did WHERE b.imei = ?").get(imei) as { n: number }).n);
  return { cluster: cluster as PgCluster, url, h, db, client, enrol, flagRequest, eir, flags };
}

test("a full cluster restart: 500 and not ready while down, flags refused with E_DB then applied once, a hello held and handled after", async (t) => {
  const bin = needPostgres(t);
  if (!bin) return;
  const { cluster, h, db, client, enrol, flagRequest, eir, flags } = await setup(t, bin);
  const one = await enrol();
  const two = await enrol();
  assert.equal((await client.send(flagRequest(one.imei))).status, 200, "flagged before the cut");
  assert.deepEqual((await eir(one.imei)).body, { status: "BLACKLISTED" });
  assert.deepEqual((await eir(two.imei)).body, { status: "WHITELISTED" });
  assert.deepEqual((await eir(two.imei)).body, { status: "WHITELISTED" }); // cached
  assert.equal((await getJson(`${h.url}/healthz`)).status, 200);

  await cluster.stopServer();
  await waitFor(() => !db.connected, "the registry sees the server gone");
  for (const imei of [one.imei, two.imei]) {
    const r = await eir(imei);
    assert.equal(r.status, 500, `no status for ${imei} without the database`);
    assert.equal(r.body.cause, "SYSTEM_FAILURE");
  }
  const health = await getJson(`${h.url}/healthz`);
  assert.equal(health.status, 503);
  assert.equal(health.body.ready, false);
  assert.equal(health.body.checks.database.ok, false);
  assert.match(health.body.checks.database.detail, /^database unavailable/);
  const during = flagRequest(two.imei);
  const refused = await client.send(during);
  assert.equal(refused.status, 503);
  assert.equal(refused.body.code, "E_DB");
  assert.match(String(refused.body.message), /^database unavailable/);
  // A new handset says hello while the database is down: MQTT acknowledges it at receipt.
  const third = h.device(h.handset());
  await third.connect();
  await waitFor(() => h.registry.heldMessages > 0, "the hello held for the database");

  await cluster.startServer();
  await waitFor(() => db.connected, "the registry reconnects", 30_000);
  assert.deepEqual((await eir(one.imei)).body, { status: "BLACKLISTED" }, "the flag raised before the cut stands");
  assert.deepEqual((await eir(two.imei)).body, { status: "WHITELISTED" }, "the refused flag was not applied");
  const again = await client.send(during); // the client sends the refused request again, same id
  assert.equal(again.status, 200);
  assert.deepEqual((await eir(two.imei)).body, { status: "BLACKLISTED" });
  const replay = await client.send(during);
  assert.equal(replay.status, 409);
  assert.equal(replay.body.code, "E_REPLAY");
  assert.equal(flags(two.imei), 1, "exactly one flag");
  assert.equal(flags(one.imei), 1);
  await waitFor(() => h.registry.store.devices.get(third.did), "the held hello enrols the handset", 15_000);
  await waitFor(async () => (await getJson(`${h.url}/healthz`)).status === 200, "ready again");
  assert.equal(h.log.named("db.unavailable").length, 1, "one log line per outage");
  assert.equal(h.log.named("db.restored").length, 1);
  t.diagnostic(`cluster restart: ${JSON.stringify(h.log.named("db.restored")[0])}`); // a figure, not asserted
  const failed = h.log.events.filter((e) => e.level === "error" && e.event.endsWith(".failed"));
  assert.deepEqual(failed, [], "no error per message");
});

test("pg_terminate_backend while a flag's transaction waits for the writers' lock: refused with E_DB, sent again it is applied once", async (t) => {
  const bin = needPostgres(t);
  if (!bin) return;
  const { url, h, db, client, enrol, flagRequest, eir, flags } = await setup(t, bin);
  const one = await enrol();
  const two = await enrol();
  assert.equal((await client.send(flagRequest(one.imei))).status, 200);
  // Let the lock command's round trip (sent, receipt, result) finish first: the session that
  // waits for the lock below must be the flag's, not a transaction of that traffic.
  await waitFor(() => h.registry.store.commands.latest(one.d.did)?.status === "SUCCEEDED", "the lock result", 15_000);
  await h.registry.idle();
  const before = (h.registry.store.db.prepare("SELECT pg_backend_pid() AS pid").get() as { pid: number }).pid;
  // Another session holds the writers' lock, so the flag's transaction waits inside BEGIN; a
  // third session, inside the server (the registry's thread is blocked meanwhile), waits until
  // the registry's session queues for the lock and ends it.
  const holder = new pg.Client(url);
  const killer = new pg.Client(url);
  for (const c of [holder, killer]) c.on("error", () => {}); // the cluster may stop first if the test fails
  await holder.connect();
  await killer.connect();
  await holder.query("SELECT pg_advisory_lock($1)", [WRITER_LOCK]);
  const killed = killer.query(`DO $$
    DECLARE p int;
    BEGIN
      LOOP
        SELECT pid INTO p FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1;
        EXIT WHEN p IS NOT NULL;
        PERFORM pg_sleep(0.01);
      END LOOP;
      PERFORM pg_terminate_backend(p);
    END $$`);
  const around = flagRequest(two.imei);
  const refused = await client.send(around);
  await killed;
  assert.equal(refused.status, 503);
  assert.equal(refused.body.code, "E_DB");
  await holder.query("SELECT pg_advisory_unlock($1)", [WRITER_LOCK]);
  await holder.end();
  await killer.end();
  await waitFor(() => db.connected, "the registry reconnects", 15_000);
  const pid = (h.registry.store.db.prepare("SELECT pg_backend_pid() AS pid").get() as { pid: number }).pid;
  assert.notEqual(pid, before, "a new session");
  assert.deepEqual((await eir(two.imei)).body, { status: "WHITELISTED" }, "the refused flag did not commit");
  assert.equal((await client.send(around)).status, 200);
  const replay = await client.send(around);
  assert.equal(replay.body.code, "E_REPLAY");
  assert.equal(flags(two.imei), 1, "exactly one flag");
  assert.deepEqual((await eir(one.imei)).body, { status: "BLACKLISTED" });
  assert.deepEqual((await eir(two.imei)).body, { status: "BLACKLISTED" });
  // Work resumes: a handset enrols after the outage.
  await enrol();
  assert.equal(h.log.named("db.unavailable").length, 1);
  t.diagnostic(`pg_terminate_backend: ${JSON.stringify(h.log.named("db.restored")[0])}`); // a figure, not asserted
});
