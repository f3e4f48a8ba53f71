// An offline proof of a flag (docs/LEDGER.md §7.3): fetched from a registry whose checkpoints two
// witnesses cosign, then checked by `antitheft verify-flag` with every service stopped; any
// alteration (entry, position, proof, a missing cosignature, another key, another IMEI) is refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateEd25519 } from "../attestation/index.js";
import { signingKey } from "../registry/keys.js";
import { parseVerifierKey, verifierKey } from "../registry/ledger/note.js";
import { witnessPolicy } from "../registry/ledger/witness-policy.js";
import { verifyFlagProof, type FlagProofBundle } from "../registry/ledger/flag-proof.js";
import { freshImei, tempDir, waitFor } from "./support/registry-sim.js";
import { ownedHandset, send, startFederation } from "./support/ledger-sim.js";
import { startWitness } from "./support/witnesses.js";

const cli = fileURLToPath(new URL("../cli/antitheft.js", import.meta.url));
function run(args: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (c) => (out += c));
  child.stderr.on("data", (c) => (out += c));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, out })));
}

test("a flag's proof bundle verifies offline under the registry's key and a 2-of-2 witness policy; alterations are refused", async (t) => {
  const dir = tempDir("at-flag-proof-");
  t.after(() => dir.cleanup());
  const w1 = await startWitness(dir.path, "w1.example/witness");
  const w2 = await startWitness(dir.path, "w2.example/witness");
  const f = await startFederation({ names: ["A"], ledgerOver: () => ({ witnesses: [{ url: w1.url, key: w1.key }, { url: w2.url, key: w2.key }] }) });
  const A = f.member("A");
  w1.follow(A.registry.ledger!.verifierKey);
  w2.follow(A.registry.ledger!.verifierKey);
  const vkey = A.registry.ledger!.verifierKey;
  const h = await ownedHandset(f, A);
  const r = await send(A, h.owner, { type: "report-stolen", imei: h.imei, message: "stolen", contact: "+1 555 0100" });
  assert.equal(r.status, 200);
  const h2 = await ownedHandset(f, A); // a second entry, so entry 0's inclusion proof is not empty
  assert.equal((await send(A, h2.owner, { type: "report-lost", imei: h2.imei })).status, 200);
  await waitFor(() => (A.registry.ledger!.cosignedCheckpoint()?.cosignatures ?? 0) === 2 && A.registry.ledger!.cosignedCheckpoint()!.size >= 2, "A's checkpoint cosigned by both witnesses", 20_000);
  const out = join(dir.path, "flag.json");
  const got = await run(["ledger", "flag-proof", "--registry", A.url, "--index", "0", "--out", out]);
  assert.equal(got.code, 0, got.out);
  h.device.crash();
  h2.device.crash();
  await f.close();
  await w1.stop();
  await w2.stop();

  const policyPath = join(dir.path, "policy.json");
  writeFileSync(policyPath, JSON.stringify({ quorum: 2, witnesses: [w1.key, w2.key] }));
  const fkPath = join(dir.path, "federation.key");
  writeFileSync(fkPath, Buffer.from(f.federationKey).toString("hex"));
  const ok = await run(["verify-flag", "--bundle", out, "--log-key", vkey, "--witness-policy", policyPath, "--imei", h.imei, "--federation-key", fkPath]);
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /"stolen" by owner .* cosigned by 2 of the policy's witnesses/);
  const other = await run(["verify-flag", "--bundle", out, "--log-key", vkey, "--witness-policy", policyPath, "--imei", freshImei(), "--federation-key", fkPath]);
  assert.equal(other.code, 1, "another handset's IMEI");

  const bundle = JSON.parse(readFileSync(out, "utf8")) as FlagProofBundle;
  const key = parseVerifierKey(vkey);
  assert.ok(key.ok);
  const policy = witnessPolicy({ quorum: 2, witnesses: [w1.key, w2.key] });
  assert.ok(verifyFlagProof(bundle, { log: key.value, policy }).ok);
  const code = (b: unknown, p = policy, k = key.value) => {
    const v = verifyFlagProof(b, { log: k, policy: p });
    return v.ok ? "OK" : v.code;
  };
  const entry = Buffer.from(bundle.entry, "base64");
  entry[entry.length - 1]! ^= 1;
  assert.equal(code({ ...bundle, entry: entry.toString("base64") }), "E_LEDGER_SIGNATURE");
  assert.equal(code({ ...bundle, index: 1 }), "E_LEDGER_SEQ");
  assert.ok(bundle.proof.length > 0);
  assert.equal(code({ ...bundle, proof: [Buffer.alloc(32, 1).toString("base64"), ...bundle.proof.slice(1)] }), "E_LEDGER_INCLUSION");
  const oneCosignature = bundle.checkpoint.split("\n").filter((l) => !l.startsWith("\u2014 w2.example")).join("\n");
  assert.equal(code({ ...bundle, checkpoint: oneCosignature }), "E_LEDGER_INCONSISTENT", "one cosignature is below a quorum of 2");
  assert.equal(code({ ...bundle, checkpoint: oneCosignature }, witnessPolicy({ quorum: 1, witnesses: [w1.key, w2.key] })), "OK");
  const stranger = signingKey(generateEd25519().privateKey);
  const strangerKey = parseVerifierKey(verifierKey(key.value.name, stranger.publicKey));
  assert.ok(strangerKey.ok);
  assert.equal(code(bundle, policy, strangerKey.value), "E_LEDGER_LOG");
  for (const junk of [null, 5, {}, { ...bundle, v: 2 }, { ...bundle, proof: "x" }]) assert.notEqual(code(junk), "OK");
});
