// examples/c-host: the Makefile builds the TA as C (wasm2c + gcc, wasm-rt-impl.c from the wabt
// package) with a minimal host, and the host boots, provisions, reboots, attests and applies a
// signed command. Its output is checked from the outside: the device key against an independent
// derivation from the HUK (test/support/reference-token.ts), the tokens with attestation/ (an
// OEM endorsement made here for that key), the command's effect with the result token, which
// the TA binds to the command's bytes. A command signed by another key is the negative control:
// the host reports the TA's refusal and nothing changes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createEndorsement, fromHex, generateEd25519, kidOfPublic, NonceStore, nodeSigner, OemRoots, toHex, ueidFromImei,
  verifyAttestation, verifyDeviceToken,
} from "../attestation/index.js";
import { commandNonce } from "../protocol/index.js";
import { signCommand } from "../registry/commands.js";
import { signingKey } from "../registry/keys.js";
import { needTool } from "./support/system-tools.js";
import { deviceSeed, publicFromSeed } from "./support/reference-token.js";
import { ROOT, TA_WASM } from "./support/ta.js";

const IMEI = "490154203237518";
const OEMID = Uint8Array.of(0x00, 0x1b, 0x63);
const MODEL = "Example X1";

function lines(stdout: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of stdout.split("\n").filter(Boolean)) {
    const i = l.indexOf(" ");
    m.set(l.slice(0, i), l.slice(i + 1));
  }
  return m;
}

test("examples/c-host: make builds the TA as C; the host boots, provisions, attests and applies a signed command", (t) => {
  if (!needTool(t, "make", "wasm2c", "gcc")) return;
  const out = mkdtempSync(join(tmpdir(), "antitheft-c-host-"));
  t.after(() => rmSync(out, { recursive: true, force: true }));

  const make = spawnSync("make", ["-C", join(ROOT, "examples", "c-host"), `O=${out}`, `WASM=${TA_WASM}`], { encoding: "utf8" });
  assert.equal(make.status, 0, `make failed:\n${make.stdout}${make.stderr}`);
  const host = join(out, "ta_host");
  assert.ok(existsSync(host));

  const huk = new Uint8Array(randomBytes(32));
  const devicePublic = publicFromSeed(deviceSeed(huk)); // independent of the TA
  const deviceKid = kidOfPublic(devicePublic);
  const registry = signingKey(generateEd25519().privateKey);
  const nonce = new Uint8Array(randomBytes(32));
  const command = signCommand(registry, { ueid: ueidFromImei(IMEI), deviceKid, seq: 5, action: 1, message: "Stolen phone", contact: "+44 20 7946 0000" });

  const runHost = (cmd: Uint8Array) => {
    const file = join(out, "command.cose");
    writeFileSync(file, cmd);
    const args = [`huk=${toHex(huk)}`, `imei=${IMEI}`, `oemid=${toHex(OEMID)}`, `hwmodel=${MODEL}`, `regkey=${toHex(registry.publicKey)}`, `nonce=${toHex(nonce)}`, `command=${file}`];
    return spawnSync(host, args, { encoding: "utf8" });
  };

  const run = runHost(command);
  assert.equal(run.status, 0, run.stderr);
  const o = lines(run.stdout);
  assert.equal(o.get("boot"), "ta_state=2", "a fresh TA boots UNPROVISIONED");
  assert.equal(o.get("provision"), "version=1");
  assert.equal(o.get("device-public"), toHex(devicePublic), "the device key is the one the HUK derives (docs/ABI.md, Keys)");
  assert.match(run.stdout, /^lock booted state=0 ta_state=0 seq=0 bootcount=1 /m);

  // The challenge answer verifies under an OEM endorsement of that key.
  const oem = generateEd25519();
  const endorsement = createEndorsement({ oem: nodeSigner(oem.privateKey), issuedAt: 1_700_000_000, deviceKey: devicePublic, imei: IMEI, oemid: OEMID, hwmodel: MODEL });
  const nonces = new NonceStore({ ttlMs: 60_000 });
  nonces.register(nonce);
  const att = verifyAttestation({ token: fromHex(o.get("token")!), endorsement, nonce }, { oemRoots: new OemRoots([oem.publicKey]), nonces });
  assert.ok(att.ok, att.ok ? "" : att.error.message);
  assert.equal(att.value.imei, IMEI);
  assert.equal(att.value.lockState, 0);
  assert.equal(att.value.lastSeq, 0);

  // The command applied: lock state, sequence and message changed, proven by the result token.
  assert.match(o.get("apply")!, /^accepted counter=3$/);
  assert.match(run.stdout, /^lock now state=2 ta_state=0 seq=5 bootcount=1 version=3 message="Stolen phone" contact="\+44 20 7946 0000"$/m);
  const proofNonces = new NonceStore({ ttlMs: 60_000 });
  proofNonces.register(commandNonce(command));
  const proof = verifyDeviceToken({ token: fromHex(o.get("result-token")!), nonce: commandNonce(command) }, { deviceKey: devicePublic, imei: IMEI }, { nonces: proofNonces });
  assert.ok(proof.ok, proof.ok ? "" : proof.error.message);
  assert.equal(proof.value.lockState, 2);
  assert.equal(proof.value.lastSeq, 5);

  // Negative control: the same command signed by a key the TA was not provisioned with.
  const forged = signCommand(signingKey(generateEd25519().privateKey), { ueid: ueidFromImei(IMEI), deviceKid, seq: 5, action: 1 });
  const refused = runHost(forged);
  assert.equal(refused.status, 3, refused.stderr);
  assert.match(refused.stdout, /^apply refused -35 ERR_CMD_SIGNATURE$/m);
  assert.match(refused.stdout, /^lock now state=0 ta_state=0 seq=0 /m);
  const r = lines(refused.stdout);
  const stillNonces = new NonceStore({ ttlMs: 60_000 });
  stillNonces.register(commandNonce(forged));
  const still = verifyDeviceToken({ token: fromHex(r.get("result-token")!), nonce: commandNonce(forged) }, { deviceKey: devicePublic, imei: IMEI }, { nonces: stillNonces });
  assert.ok(still.ok && still.value.lockState === 0 && still.value.lastSeq === 0, "a refused command changes nothing");
});
