// The registry's HTTPS (docs/PROTOCOL.md §2.1, §6): `antitheft registry --tls-cert/--tls-key`
// serves its HTTP interface over TLS, says so in its banner, and clients that trust the
// deployment's CA (RegistryClient with transport/https.ts fetchWithCa, the owner CLI with
// ANTITHEFT_REGISTRY_CA) talk to it; a client that does not trust that CA is refused with a
// named error. Certificates come from the project's own PKI code.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { RegistryClient } from "../registry/client.js";
import { fetchWithCa } from "../transport/https.js";
import { TransportError } from "../transport/errors.js";
import { createCa, issueCertificate } from "../transport/pki.js";
import { startAedes, type AedesHandle } from "./support/brokers.js";
import { createWorld, RegistryProcess, runCli, testImei, type World } from "./support/e2e.js";

let world: World;
let broker: AedesHandle;
let registry: RegistryProcess;
let caPem: string;
let caFile: string;

before(async () => {
  world = createWorld("at-https-");
  broker = await startAedes();
  const ca = await createCa("test HTTPS CA");
  caPem = ca.certPem;
  caFile = join(world.dir, "ca.crt");
  writeFileSync(caFile, ca.certPem);
  const server = await issueCertificate(ca, { cn: "registry", usage: "server", hosts: ["127.0.0.1", "localhost"] });
  writeFileSync(join(world.dir, "https.crt"), server.certPem);
  writeFileSync(join(world.dir, "https.key"), server.keyPem);
  registry = await RegistryProcess.start({ world, broker: broker.url, protocolVersion: 4, args: ["--tls-cert", join(world.dir, "https.crt"), "--tls-key", join(world.dir, "https.key")] });
});

after(async () => {
  await registry?.stop();
  await broker?.stop();
  world?.cleanup();
});

test("with --tls-cert/--tls-key the registry serves HTTPS; a client trusting the CA gets its answers, others are refused by name", async () => {
  assert.match(registry.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(registry.find((e) => e.event === "registry.started")[0]?.notice, undefined, "no plain-HTTP notice when serving HTTPS");
  const client = new RegistryClient(registry.url, { fetch: fetchWithCa(caPem) });
  const a = await client.equipmentStatus(`imei-${testImei(901)}`);
  assert.equal(a.status, 404, "an IMEI never enrolled is unknown (TS 29.511), answered over HTTPS");
  assert.equal((await client.audience()).length, 16, "the registry's identity, over HTTPS");

  // The system's roots do not know the deployment's CA: the global fetch refuses.
  await assert.rejects(new RegistryClient(registry.url).device(testImei(901)), /cannot reach the registry/);
  // Another CA: refused with a named transport error.
  const other = await createCa("another CA");
  const refused = await fetchWithCa(other.certPem)(`${registry.url}/antitheft/v1/registry`).catch((e: unknown) => e);
  assert.ok(refused instanceof TransportError && refused.code === "E_TLS_UNKNOWN_CA", String(refused));
  // The owner CLI trusts the CA named in ANTITHEFT_REGISTRY_CA.
  const env = { ...process.env, ANTITHEFT_REGISTRY_CA: caFile };
  const status = runCliEnv(["owner", "status", "--registry", registry.url, "--imei", testImei(901)], env);
  assert.doesNotMatch(status.stderr, /cannot reach/, status.stderr);
  const without = runCliEnv(["owner", "status", "--registry", registry.url, "--imei", testImei(901)], { ...process.env, ANTITHEFT_REGISTRY_CA: "" });
  assert.match(without.stderr, /cannot reach the registry/);
});

test("antitheft audit refuses a registry certificate it cannot trust up front: E_TLS_UNKNOWN_CA, exit 2 (not an unreachable registry)", async () => {
  const otherCa = join(world.dir, "other-ca.crt");
  writeFileSync(otherCa, (await createCa("another CA")).certPem);
  const pub = world.files.registry.pub;
  // --ca naming another CA (transport/https.ts fetchWithCa), and no --ca at all (the system's roots, Node's fetch).
  for (const ca of [["--ca", otherCa], []]) {
    const r = runCli(["audit", "--registry", registry.url, "--pub", pub, ...ca]);
    assert.equal(r.status, 2, `${ca.join(" ")}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /^error E_TLS_UNKNOWN_CA: the registry at https:\/\/127\.0\.0\.1:\d+\/\S* presented a certificate that does not chain/m);
  }
  // Control: trusting the deployment's CA, the same audit gets past the certificate (this
  // registry keeps no ledger: the next check says so).
  const trusted = runCli(["audit", "--registry", registry.url, "--pub", pub, "--ca", caFile]);
  assert.doesNotMatch(trusted.stderr, /E_TLS_/, trusted.stderr);
  assert.match(trusted.stderr, /keeps no ledger/, trusted.stderr);
});

test("without --tls-cert the registry says it serves plain HTTP on loopback only", async () => {
  const plain = await RegistryProcess.start({ world, broker: broker.url, protocolVersion: 4, db: join(world.dir, "plain.sqlite"), name: "plain" });
  try {
    assert.match(plain.url, /^http:\/\//);
    const started = plain.events.find((e) => e.event === "registry.started");
    assert.match(String(started?.notice), /plain HTTP, on loopback only/, JSON.stringify(started));
  } finally {
    await plain.stop();
  }
});

function runCliEnv(args: string[], env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const saved = process.env;
  process.env = env;
  try {
    return runCli(args);
  } finally {
    process.env = saved;
  }
}
