// Three `antitheft registry` processes on ONE PostgreSQL database behind a Mosquitto MQTT 5
// shared subscription (docs/STORAGE.md §5): a fleet enrols (any worker may take any hello or
// answer: challenges are single use in the database), every owner claims and reports the
// handset stolen through the three workers' HTTP in turn, and one worker is killed with kill -9
// in the middle of the reports. A report whose worker died is sent again, byte for byte, to the
// next worker (what a client does after a dropped connection): it either committed before the
// kill (the retry is refused as a replay, E_REPLAY) or not (the retry raises the flag). The
// killed worker is started again. Then: every handset has exactly one flag and one lock command,
// every lock result is recorded once, every handset is locked - nothing lost, nothing doubled.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { buildRequest } from "../registry/request-codec.js";
import { MIGRATIONS } from "../registry/store/schema.js";
import { signingKey, type SigningKey } from "../registry/keys.js";
import { generateEd25519 } from "../attestation/index.js";
import { needTool } from "./support/system-tools.js";
import { startMosquitto, type MosquittoHandle } from "./support/brokers.js";
import { createWorld, RegistryProcess, type World } from "./support/e2e.js";
import { OEM_PUBLIC_PEM } from "./support/attestation-fixture.js";
import { refHandset, SimDevice, waitFor } from "./support/registry-sim.js";
import { claimWithCode } from "./support/claim.js";
import { needPostgres, startPostgres, type PgCluster } from "./support/postgres.js";

const GROUP = "registry";
const HANDSETS = 30;

async function cleanup(t: TestContext, steps: (() => unknown)[]): Promise<void> {
  for (const s of steps) {
    try {
      await s();
    } catch (e) {
      t.diagnostic(`clean-up: ${String(e)}`);
    }
  }
}

test("three registry processes on one PostgreSQL database: a fleet enrols, owners report, kill -9 of one mid-run loses and doubles nothing", async (t) => {
  if (!needTool(t, "mosquitto")) return;
  const bin = needPostgres(t);
  if (!bin) return;
  const world: World = createWorld("at-pgworkers-");
  const devices: SimDevice[] = [];
  const workers: RegistryProcess[] = [];
  let broker: MosquittoHandle | undefined;
  let cluster: PgCluster | undefined;
  let sql: pg.Client | undefined;
  t.after(() =>
    cleanup(t, [() => devices.forEach((d) => d.crash()), ...workers.map((w) => () => w.stop()), () => sql?.end(), () => broker?.stop(), () => cluster?.stop(), () => world.cleanup()]),
  );

  cluster = await startPostgres(bin);
  const db = await cluster.createDb();
  sql = new pg.Client(db);
  await sql.connect();
  const one = async (q: string, ...args: unknown[]): Promise<number> => Number(Object.values((await sql!.query(q, args)).rows[0] ?? { n: 0 })[0]);

  broker = await startMosquitto({ extraConfig: ["max_queued_messages 10000"] });
  const oemPub = join(world.dir, "fixture-oem.pub");
  writeFileSync(oemPub, OEM_PUBLIC_PEM);
  const start = (name: string) => RegistryProcess.start({ world, broker: broker!.url, protocolVersion: 5, db, name, args: ["--share-group", GROUP, "--oem-pub", oemPub] });
  // All three at once on an empty database: one migrates under the writers' lock, the others find it done.
  workers.push(...(await Promise.all([start("w1"), start("w2"), start("w3")])));
  assert.equal(await one("SELECT version FROM antitheft_schema"), MIGRATIONS.length);

  // --- the fleet enrols ----------------------------------------------------------------------------
  const handsets = Array.from({ length: HANDSETS }, () => refHandset([world.registry.publicKey]));
  for (const hs of handsets) devices.push(new SimDevice({ broker: broker.url, ta: hs.ta, endorsement: hs.endorsement, protocolVersion: 5 }));
  await Promise.all(devices.map((d) => d.connect()));
  await waitFor(async () => (await one("SELECT count(*) FROM devices")) === HANDSETS, `${HANDSETS} enrolments`, 20_000);
  await waitFor(() => workers.reduce((n, w) => n + w.find((e) => e.event === "device.enrolled").length, 0) >= HANDSETS, "the workers' enrolment logs");
  const enrolled = workers.map((w) => w.find((e) => e.event === "device.enrolled").length);
  t.diagnostic(`enrolled by w1 ${enrolled[0]}, w2 ${enrolled[1]}, w3 ${enrolled[2]}`);
  assert.equal(enrolled.reduce((a, b) => a + b, 0), HANDSETS, "each handset enrolled once");
  assert.ok(enrolled.filter((n) => n > 0).length >= 2, "the shared subscription spread the fleet over the workers");
  assert.equal(await one("SELECT count(*) FROM events WHERE type = 'enrolled'"), HANDSETS);

  // --- owners claim (through the workers in turn) ----------------------------------------------------
  const owners: SigningKey[] = handsets.map(() => signingKey(generateEd25519().privateKey));
  const sendBytes = async (w: RegistryProcess, body: Uint8Array) => {
    const r = await fetch(`${w.url}/antitheft/v1/requests`, { method: "POST", body: Buffer.from(body), headers: { "content-type": "application/cose" } });
    return { status: r.status, body: (await r.json()) as any };
  };
  for (const [i, hs] of handsets.entries()) {
    const w = workers[i % 3]!;
    const c = await claimWithCode((r) => sendBytes(w, buildRequest(owners[i]!.signer, r, world.registry.kid)), owners[i]!, hs.ta, hs.ta.id.imei);
    assert.equal(c.status, 200, JSON.stringify(c.body));
  }

  // --- owners report stolen; w2 is killed with kill -9 half-way -------------------------------------
  const reports = handsets.map((hs, i) => buildRequest(owners[i]!.signer, { type: "report-stolen", imei: hs.ta.id.imei, reason: "stolen" }, world.registry.kid));
  const w2 = workers[1]!;
  let sent = 0;
  let retried = 0;
  let replays = 0;
  const outcomes: number[] = [];
  const report = async (i: number): Promise<void> => {
    for (let k = 0; k < 3; k++) {
      const w = workers[(i + k) % 3]!;
      if (!w.alive) continue;
      try {
        const a = await sendBytes(w, reports[i]!);
        if (k > 0) retried++;
        if (a.status === 409 && a.body.code === "E_REPLAY") replays++;
        else assert.equal(a.status, 200, JSON.stringify(a.body));
        outcomes[i] = a.status;
        return;
      } catch {
        // the connection died with the worker: the same bytes go to the next one
      }
    }
    throw new Error(`report ${i} reached no worker`);
  };
  // In flight together, so the kill lands while some of w2's requests are being committed.
  await Promise.all(
    reports.map(async (_, i) => {
      await new Promise((r) => setTimeout(r, i * 5));
      if (++sent === HANDSETS / 2) void w2.kill9();
      await report(i);
    }),
  );
  t.diagnostic(`reports retried at another worker: ${retried}; refused as replays (committed before the kill): ${replays}`);
  assert.equal(outcomes.filter((s) => s === 200 || s === 409).length, HANDSETS);
  assert.ok(!w2.alive, "w2 was killed");
  await w2.restart(); // it publishes what it committed but had no time to send

  // --- nothing lost, nothing doubled -----------------------------------------------------------------
  const dids = devices.map((d) => d.did);
  await waitFor(async () => (await one("SELECT count(*) FROM commands WHERE status = 'SUCCEEDED'")) === HANDSETS, "every lock result", 30_000);
  assert.ok(handsets.every((h) => h.ta.lockState === 2), "every handset locked");
  for (const did of dids) {
    assert.equal(await one("SELECT count(*) FROM flags WHERE did = $1 AND cleared_at IS NULL", did), 1, `${did}: one flag`);
    assert.equal(await one("SELECT count(*) FROM commands WHERE did = $1", did), 1, `${did}: one lock command`);
  }
  assert.equal(await one("SELECT count(*) FROM events WHERE type = 'flag-raised'"), HANDSETS, "one flag-raised event each");
  await waitFor(() => devices.every((d) => d.commands.length >= 2), "both copies of every lock answered", 15_000);
  const perResult = (await sql.query("SELECT count(*) AS n FROM events WHERE type = 'command-result' GROUP BY did, (detail::json->>'seq')")).rows.map((r) => Number(r.n));
  assert.equal(perResult.length, HANDSETS, "a result for every lock");
  assert.ok(perResult.every((n) => n === 1), `every result recorded once (counts ${[...new Set(perResult)].join(", ")})`);
  // Every status served by any worker says so.
  for (const w of workers) for (const hs of handsets.slice(0, 5)) assert.equal(await w.equipmentStatus(hs.ta.id.imei), "BLACKLISTED");
});
