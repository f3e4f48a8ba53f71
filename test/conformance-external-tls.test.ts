// `antitheft conformance --registry URL` against a registry known only by its URL, over mutual TLS
// and HTTPS (docs/CONFORMANCE.md "Over mutual TLS", docs/PROTOCOL.md §2.1): a real Mosquitto with
// the shipped mosquitto.conf and acl-lab; `antitheft registry` in its own process with its two
// transport identities (--cert/--cert-key at-r-registry, --ledger-cert/--ledger-key
// at-l-registry), HTTPS from --tls-cert/--tls-key under the same private CA, and its ledger
// federated with the suite's two member registries, who connect as at-l-conformance-peer-1/-2.
// The suite trusts the registry's HTTPS certificate through ANTITHEFT_REGISTRY_CA.
// Negative control: without ANTITHEFT_REGISTRY_CA the suite refuses the registry's certificate
// (E_TLS_UNKNOWN_CA, exit 2) before any scenario runs - so the PASS verdicts came over HTTPS
// checked against that CA, not over an unchecked connection.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeKeyPair } from "../registry/keys.js";
import { SecureBroker } from "./support/secure-broker.js";
import { createWorld, RegistryProcess, runCliAsync } from "./support/e2e.js";
import { needTool } from "./support/system-tools.js";

test("antitheft conformance --registry https://... on Mosquitto with mutual TLS: a registry process with --ca/--cert/--cert-key, --ledger-cert and HTTPS", async (t) => {
  if (!needTool(t, "mosquitto")) return;
  const b = await SecureBroker.start({ acl: "acl-lab" });
  const world = createWorld("at-conformance-tls-3p-");
  t.after(async () => {
    await b.stop();
    world.cleanup();
  });
  const reg = await b.issue("registry", { cn: "at-r-registry" });
  const ledger = await b.issue("ledger", { cn: "at-l-registry" });
  const https = await b.issue("https", { cn: "127.0.0.1", usage: "server", hosts: ["127.0.0.1"] });
  const lab = await b.issue("lab", { cn: "at-lab" });
  const peers = [1, 2].map((i) => writeKeyPair(join(world.dir, `peer-${i}.key`)));
  const federationKey = join(world.dir, "federation.key");
  writeFileSync(federationKey, randomBytes(32).toString("hex") + "\n");

  const registry = await RegistryProcess.start({
    world, broker: b.url, protocolVersion: 5, name: "registry",
    args: [
      "--ca", b.caFile, "--cert", reg.cert, "--cert-key", reg.key, "--ledger-cert", ledger.cert, "--ledger-key", ledger.key,
      "--tls-cert", https.cert, "--tls-key", https.key,
      "--federation-key", federationKey, ...peers.flatMap((p, i) => ["--peer-pub", `conformance-peer-${i + 1}=${p.pubPath}`]),
    ],
  });
  t.after(() => registry.stop());
  assert.match(registry.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const started = registry.find((e) => e.event === "registry.started")[0]!;
  assert.equal(started.certificate, "at-r-registry");

  const f = world.files;
  const args = [
    "conformance", "--registry", registry.url, "--broker", b.url, "--mqtt-version", "5",
    "--ca", b.caFile, "--device-ca", b.dir, "--cert", lab.cert, "--key", lab.key,
    "--registry-pub", f.registry.pub, "--oem-key", f.oem.key, "--authority-key", f.authority.key,
    ...peers.flatMap((p) => ["--ledger-peer-key", p.keyPath]), "--federation-key", federationKey,
  ];
  const scenarios = ["enrolment", "theft-lock", "forged-requests", "ledger-federation", "ledger-get", "ledger-hostile"];
  const r = await runCliAsync([...args, "--scenario", scenarios.join(",")], { env: { ...process.env, ANTITHEFT_REGISTRY_CA: b.caFile }, timeoutMs: 120_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  for (const s of scenarios) assert.match(r.stdout, new RegExp(`^\\s*${s}\\s+PASS`, "m"), r.stdout);
  assert.doesNotMatch(r.stdout, /FAIL|ERROR|SKIP/);

  // Negative control: the same run trusting only the system's roots.
  const untrusted = await runCliAsync([...args, "--scenario", "enrolment"], { env: { ...process.env, ANTITHEFT_REGISTRY_CA: "" }, timeoutMs: 120_000 });
  assert.equal(untrusted.status, 2, untrusted.stdout + untrusted.stderr);
  assert.match(untrusted.stderr, /^error E_TLS_UNKNOWN_CA: the registry at https:\/\/127\.0\.0\.1:\d+\/\S* presented a certificate that does not chain/m);
  assert.doesNotMatch(untrusted.stdout, /enrolment/);
});
