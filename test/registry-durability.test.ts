// A registry killed mid-run loses no flag and no pending command: the registry runs as a child
// process (the real CLI) against an aedes broker in this process; it is killed with SIGKILL
// while owners' reports are in flight and restarted on the same SQLite file. Every report that
// was answered 200 is still in force, and its lock reaches the handset after the restart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateEd25519 } from "../attestation/index.js";
import { buildRequest } from "../registry/request-codec.js";
import { claimWithCode } from "./support/claim.js";
import { loadSigningKey, signingKey, writeKeyPair } from "../registry/keys.js";
import { Store } from "../registry/store.js";
import { Registry } from "../registry/registry.js";
import { OEM_PUBLIC_PEM } from "./support/attestation-fixture.js";
import { OEM, SimDevice, getJson, fullView, postCose, sleep, refHandset, startBroker, tempDir, waitFor } from "./support/registry-sim.js";

const cli = fileURLToPath(new URL("../cli/antitheft.js", import.meta.url));

interface Child {
  readonly child: ChildProcess;
  readonly url: string;
  output(): string;
}

function spawnRegistry(args: string[]): Promise<Child> {
  const child = spawn(process.execPath, [cli, "registry", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (c) => (out += c));
  child.stderr!.on("data", (c) => (out += c));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the registry did not start:\n${out}`)), 20_000);
    child.stdout!.on("data", () => {
      const m = /registry\.started .*\bhttp=(http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, output: () => out });
      }
    });
    child.on("exit", (code) => reject(new Error(`the registry exited (${code}):\n${out}`)));
  });
}

const killed = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once("exit", () => r())));

test("kill -9 mid-run: every acknowledged flag and pending command survives and is delivered", async (t) => {
  const broker = await startBroker();
  const dir = tempDir();
  t.after(async () => {
    await broker.close();
    dir.cleanup();
  });
  const keyPath = join(dir.path, "registry.key");
  writeKeyPair(keyPath);
  const registryKey = loadSigningKey(keyPath);
  writeFileSync(join(dir.path, "oem.pub"), OEM_PUBLIC_PEM);
  const args = ["--broker", broker.url, "--db", join(dir.path, "registry.sqlite"), "--key", keyPath, "--oem-pub", join(dir.path, "oem.pub"), "--http", "127.0.0.1:0", "--name", "durable"];

  let reg = await spawnRegistry(args);
  t.after(() => void reg.child.kill("SIGKILL"));
  const N = 8;
  const handsets = Array.from({ length: N }, () => refHandset([registryKey.publicKey]));
  const owners = handsets.map(() => signingKey(generateEd25519().privateKey));
  const devices = handsets.map((hs) => new SimDevice({ broker: broker.url, ta: hs.ta, endorsement: hs.endorsement }));
  t.after(() => devices.forEach((d) => d.crash()));
  for (const d of devices) await d.connect();
  for (const [i, hs] of handsets.entries()) {
    const imei = hs.ta.id.imei;
    await waitFor(async () => (await getJson(`${reg.url}/n5g-eir-eic/v1/equipment-status?pei=imei-${imei}`)).status === 200, `enrolment ${i}`);
    const c = await claimWithCode((r) => postCose(`${reg.url}/antitheft/v1/requests`, buildRequest(owners[i]!.signer, r, registryKey.kid)), owners[i]!, hs.ta, imei);
    assert.equal(c.status, 200, JSON.stringify(c.body));
  }
  // The handsets go offline; the owners report them all stolen at once; the registry is killed
  // as soon as half of the answers are in.
  for (const d of devices) await d.disconnect();
  const acknowledged = new Set<number>();
  let answered = 0;
  const reports = handsets.map((hs, i) =>
    postCose(`${reg.url}/antitheft/v1/requests`, buildRequest(owners[i]!.signer, { type: "report-stolen", imei: hs.ta.id.imei, message: `phone ${i}` }, registryKey.kid)).then(
      (r) => {
        if (r.status === 200) acknowledged.add(i);
        if (++answered === N / 2) reg.child.kill("SIGKILL");
      },
      () => {
        if (++answered === N / 2) reg.child.kill("SIGKILL");
      },
    ),
  );
  await Promise.all(reports);
  await killed(reg.child);
  assert.equal(reg.child.signalCode, "SIGKILL");
  assert.ok(acknowledged.size >= N / 2 - 1, `${acknowledged.size} reports were acknowledged before the kill`);

  reg = await spawnRegistry(args);
  for (const i of acknowledged) {
    const imei = handsets[i]!.ta.id.imei;
    const eir = await getJson(`${reg.url}/n5g-eir-eic/v1/equipment-status?pei=imei-${imei}`);
    assert.deepEqual(eir.body, { status: "BLACKLISTED" }, `acknowledged report ${i} survived`);
    const view = await fullView(reg.url, owners[i]!, imei); // the owner's view (PROTOCOL.md §6.2 "Device views")
    assert.equal(view.body.devices[0].pendingCommand?.action, "lock", `pending lock ${i} survived`);
  }
  // Back online, every acknowledged handset locks with its message and the jobs complete.
  for (const d of devices) await d.connect();
  for (const i of acknowledged) {
    await waitFor(() => handsets[i]!.ta.lockState === 2, `handset ${i} locks`, 10_000);
    const imei = handsets[i]!.ta.id.imei;
    // Polled slowly: the owner's requests are rate limited (PROTOCOL.md §6.4).
    await waitFor(async () => (await sleep(300), (await fullView(reg.url, owners[i]!, imei)).body.devices?.[0]?.pendingCommand === null), `job ${i} done`, 10_000);
  }
  reg.child.kill("SIGTERM");
  await killed(reg.child);
  assert.equal(reg.child.exitCode, 0, reg.output());
  assert.match(reg.output(), /registry.stopping signal=SIGTERM\n(.*\n)*.* registry.stopped\n$/);
});

test("a registry dropped without stop() (database never closed) loses nothing committed", async (t) => {
  const broker = await startBroker();
  const dir = tempDir();
  t.after(async () => {
    await broker.close();
    dir.cleanup();
  });
  const db = join(dir.path, "r.sqlite");
  const registryKey = signingKey(generateEd25519().privateKey);
  const first = new Registry({ db, registryKey, oemRoots: [OEM.publicKey], mqtt: { url: broker.url, name: "a" }, http: { host: "127.0.0.1", port: 0 } });
  await first.start();
  const hs = refHandset([registryKey.publicKey]);
  const d = new SimDevice({ broker: broker.url, ta: hs.ta, endorsement: hs.endorsement, respond: false });
  t.after(() => d.crash());
  await d.connect();
  await waitFor(() => first.store.devices.get(d.did), "enrolment");
  const owner = signingKey(generateEd25519().privateKey);
  const send = (url: string, r: Parameters<typeof buildRequest>[1]) => postCose(`${url}/antitheft/v1/requests`, buildRequest(owner.signer, r, registryKey.kid));
  assert.equal((await claimWithCode((r) => send(first.httpUrl!, r), owner, hs.ta, hs.ta.id.imei)).status, 200);
  assert.equal((await send(first.httpUrl!, { type: "report-lost", imei: hs.ta.id.imei })).status, 200);
  // Abandon it: no stop(), no close(), the WAL not checkpointed. A second connection reads it.
  const peek = Store.open(db);
  assert.equal(peek.flags.active(d.did)[0]?.kind, "lost");
  assert.equal(peek.commands.get(d.did, 1)?.action, 1);
  assert.equal(peek.owners.current(d.did) !== undefined, true);
  peek.close();
  await first.stop(); // only now, so the test process can end
});

test("a command committed while the broker was unreachable is published when the registry starts", async (t) => {
  const broker = await startBroker();
  const dir = tempDir();
  t.after(async () => {
    await broker.close();
    dir.cleanup();
  });
  const db = join(dir.path, "r.sqlite");
  const registryKey = signingKey(generateEd25519().privateKey);
  const options = { db, registryKey, oemRoots: [OEM.publicKey], http: { host: "127.0.0.1", port: 0 } };
  const online = new Registry({ ...options, mqtt: { url: broker.url, name: "r" } });
  await online.start();
  const hs = refHandset([registryKey.publicKey]);
  const d = new SimDevice({ broker: broker.url, ta: hs.ta, endorsement: hs.endorsement });
  t.after(() => d.crash());
  await d.connect();
  await waitFor(() => online.store.devices.get(d.did), "enrolment");
  await online.stop();
  // HTTP only: the report commits its flag and command, but nothing can be published.
  const offline = new Registry(options);
  await offline.start();
  const owner = signingKey(generateEd25519().privateKey);
  const send = (r: Parameters<typeof buildRequest>[1]) => postCose(`${offline.httpUrl}/antitheft/v1/requests`, buildRequest(owner.signer, r, registryKey.kid));
  assert.equal((await claimWithCode(send, owner, hs.ta, hs.ta.id.imei)).status, 200);
  assert.equal((await send({ type: "report-stolen", imei: hs.ta.id.imei })).status, 200);
  assert.equal(offline.store.commands.get(d.did, 1)!.status, "QUEUED");
  await offline.stop();
  // The next start publishes it; the connected handset locks without reconnecting or saying hello.
  const again = new Registry({ ...options, mqtt: { url: broker.url, name: "r" } });
  t.after(() => again.stop());
  await again.start();
  await waitFor(() => again.store.commands.get(d.did, 1)?.status === "SUCCEEDED", "lock result");
  assert.equal(hs.ta.lockState, 2);
});
