// `antitheft witness keygen` and `antitheft witness`: a real process that prints its cosigner key,
// cosigns a registry's checkpoint over HTTP (C2SP tlog-witness) and keeps its state in its file;
// and the registry's witness client, which keeps only cosignatures that verify under the key it
// was given (a witness answering with another key's line, or garbage, counts for nothing).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateEd25519 } from "../attestation/index.js";
import { signingKey } from "../registry/keys.js";
import { ed25519NoteSigner, verifierKey } from "../registry/ledger/note.js";
import { signCheckpoint } from "../registry/ledger/checkpoint.js";
import { cosignatureSigner, cosignerKey, parseCosignerKey } from "../registry/ledger/cosignature.js";
import { WitnessClient } from "../registry/ledger/witness-client.js";
import { MemoryLogger } from "../agent/log.js";
import { tempDir, waitFor } from "./support/registry-sim.js";

const cli = fileURLToPath(new URL("../cli/antitheft.js", import.meta.url));
const ORIGIN = "registry.example/ledger";

test("antitheft witness: prints its cosigner key, cosigns over HTTP, refuses an unknown log; bad flags are usage errors", async (t) => {
  const dir = tempDir("at-witness-cli-");
  t.after(() => dir.cleanup());
  const keyPath = join(dir.path, "w.key");
  const kg = spawn(process.execPath, [cli, "witness", "keygen", "--out", keyPath]);
  assert.equal(await new Promise((r) => kg.on("exit", r)), 0);
  const log = signingKey(generateEd25519().privateKey);
  const child = spawn(process.execPath, [cli, "witness", "--key", keyPath, "--name", "w.example/witness", "--db", join(dir.path, "w.sqlite"), "--log", verifierKey(ORIGIN, log.publicKey), "--http", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (c) => (out += c));
  child.stderr.on("data", (c) => (out += c));
  t.after(() => child.kill("SIGTERM"));
  await waitFor(() => /cosigner  \S+/.test(out) && /http      \S+/.test(out), "the witness to start", 20_000);
  const url = /http      (\S+)/.exec(out)![1]!;
  const cosigner = parseCosignerKey(/cosigner  (\S+)/.exec(out)![1]!);
  assert.ok(cosigner.ok);
  const cp = signCheckpoint({ origin: ORIGIN, size: 3, root: new Uint8Array(32).fill(3) }, [ed25519NoteSigner(ORIGIN, log.signer)]);
  const client = new WitnessClient({ witnesses: [{ url: url.replace(/\/add-checkpoint$/, ""), cosigner: cosigner.value }], consistency: () => [], log: new MemoryLogger() });
  const lines = await client.cosign(cp, 3);
  assert.equal(lines.length, 1);
  const unknown = await fetch(url, { method: "POST", body: `old 0\n\n${signCheckpoint({ origin: "other.example/log", size: 1, root: new Uint8Array(32) }, [ed25519NoteSigner("other.example/log", log.signer)])}` });
  assert.equal(unknown.status, 404);
  const exit = new Promise((r) => child.on("exit", r));
  child.kill("SIGTERM");
  assert.equal(await exit, 0);
  const bad = spawn(process.execPath, [cli, "witness", "--key", keyPath, "--name", "w.example/witness", "--db", join(dir.path, "w.sqlite"), "--log", "not-a-key"]);
  assert.equal(await new Promise((r) => bad.on("exit", r)), 2);
});

test("the witness client keeps only cosignatures under the configured key", async (t) => {
  const log = signingKey(generateEd25519().privateKey);
  const cp = signCheckpoint({ origin: ORIGIN, size: 1, root: new Uint8Array(32).fill(1) }, [ed25519NoteSigner(ORIGIN, log.signer)]);
  const real = signingKey(generateEd25519().privateKey);
  const impostor = cosignatureSigner("w.example/witness", signingKey(generateEd25519().privateKey).signer, Date.now);
  const answers = [`\u2014 w.example/witness ${Buffer.concat([impostor.id, impostor.sign(new TextEncoder().encode(cp.slice(0, cp.indexOf("\n\n") + 1)))]).toString("base64")}\n`, "garbage\n", "\u2014 w.example/witness AAAA\n", ""];
  let i = 0;
  const server = createServer((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end(answers[i++ % answers.length]));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const logger = new MemoryLogger();
  const cosigner = parseCosignerKey(cosignerKey("w.example/witness", real.publicKey));
  assert.ok(cosigner.ok);
  const client = new WitnessClient({ witnesses: [{ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, cosigner: cosigner.value }], consistency: () => [], log: logger });
  for (let k = 0; k < answers.length; k++) assert.deepEqual(await client.cosign(cp, 1), [], `answer ${k}`);
  assert.equal(logger.named("ledger.witness-bad-cosignature").length, answers.length);
});
