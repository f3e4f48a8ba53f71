// The handset-side CLI end to end, as a factory, an OEM and a verifier would run it:
// oem keygen -> factory provision -> device attest -> verify, plus status, claim-proof and
// factory-reset. Real processes, real TA (build/ta.wasm), real files.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { createHash, createPrivateKey, createPublicKey } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { NonceStore } from "../attestation/nonce-store.js";
import { verifyDeviceToken } from "../attestation/verifier.js";
import { DeviceFolder } from "../agent/device-folder.js";
import { claimNonce } from "../protocol/claim-code.js";
import { INTUSE } from "../attestation/eat/profile.js";
import { DeviceSession } from "../agent/session.js";
import { nodeSigner } from "../attestation/cose/sign1.js";
import { signCommand, taModule } from "./support/agent-harness.js";

const cli = fileURLToPath(new URL("../cli/antitheft.js", import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
/** The same, without blocking: independent invocations run side by side. */
const runAsync = (...args: string[]) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [cli, ...args], { encoding: "utf8" }, (err, stdout, stderr) =>
      resolve({ status: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }));
  });
const IMEI = "490154203237518";

async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string, prefix: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name), `${prefix}${e.name}/`);
      else out[prefix + e.name] = createHash("sha256").update(await readFile(join(d, e.name))).digest("hex");
    }
  };
  await walk(dir, "");
  return out;
}

interface Ctx {
  dir: string;
  oemKey: string;
  oemPub: string;
  regKey: string;
  regPub: string;
  device: string;
}

/** Keys and one provisioned handset in a temp directory, shared by the tests below. */
let ctxPromise: Promise<Ctx> | undefined;
function ctx(): Promise<Ctx> {
  ctxPromise ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "at-cli-"));
    const c = { dir, oemKey: join(dir, "oem.key"), oemPub: join(dir, "oem.pub"), regKey: join(dir, "registry.key"), regPub: join(dir, "registry.pub"), device: join(dir, "phone") };
    for (const k of [c.oemKey, c.regKey]) assert.equal(run("oem", "keygen", "--out", k).status, 0);
    const r = run("factory", "provision", "--dir", c.device, "--imei", IMEI, "--oem-key", c.oemKey, "--registry-pub", c.regPub, "--model", "Example Phone 1");
    assert.equal(r.status, 0, r.stderr);
    return c;
  })();
  return ctxPromise;
}

test.after(async () => {
  if (ctxPromise) await rm((await ctxPromise).dir, { recursive: true, force: true });
});

test("oem keygen: PKCS#8 and SPKI PEM that node:crypto reads; no silent overwrite", async () => {
  const c = await ctx();
  const priv = createPrivateKey(await readFile(c.oemKey, "utf8"));
  const pub = createPublicKey(await readFile(c.oemPub, "utf8"));
  assert.equal(priv.asymmetricKeyType, "ed25519");
  assert.deepEqual(createPublicKey(priv).export({ format: "der", type: "spki" }), pub.export({ format: "der", type: "spki" }));
  assert.equal((await stat(c.oemKey)).mode & 0o077, 0, "the private key is not readable by others");
  const before = await readFile(c.oemKey, "utf8");
  const again = run("oem", "keygen", "--out", c.oemKey);
  assert.notEqual(again.status, 0);
  assert.match(again.stderr, /error E_EXISTS/);
  assert.equal(await readFile(c.oemKey, "utf8"), before);
  assert.equal(run("oem", "keygen").status, 2, "--out is required");
});

test("factory provision: the folder holds fuse, sealed state, counter, endorsement and device.json", async () => {
  const c = await ctx();
  assert.deepEqual((await readdir(c.device)).sort(), ["counter", "device.json", "endorsement.cbor", "huk.bin", "sealed.bin"]);
  assert.equal((await readFile(join(c.device, "huk.bin"))).length, 32);
  assert.equal((await readFile(join(c.device, "counter"), "utf8")).trim(), "1");
  const info = JSON.parse(await readFile(join(c.device, "device.json"), "utf8"));
  assert.equal(info.imei, IMEI);
  assert.match(info.did, /^[0-9a-f]{32}$/);
  const endorsement = await readFile(join(c.device, "endorsement.cbor"));
  assert.deepEqual([...endorsement.subarray(0, 2)], [0xd8, 0x3d], "tag 61 (CWT) around the COSE_Sign1");
});

test("factory provision: a provisioned folder is refused and left byte-for-byte unchanged", async () => {
  const c = await ctx();
  const before = await tree(c.device);
  const r = run("factory", "provision", "--dir", c.device, "--imei", "356938035643809", "--oem-key", c.oemKey, "--registry-pub", c.regPub, "--model", "Other");
  assert.equal(r.status, 1);
  assert.match(r.stderr, /error E_ALREADY_PROVISIONED/);
  assert.deepEqual(await tree(c.device), before);
});

test("factory provision: bad IMEIs and arguments are refused and create nothing", async () => {
  const c = await ctx();
  const cases: [string[], RegExp, number][] = [
    // A bad IMEI is a usage error (exit 2, naming the flag), as in every other command.
    [["--imei", "490154203237519"], /error E_USAGE: --imei must be 15 digits with a valid check digit/, 2],
    [["--imei", "49015420323751"], /error E_USAGE: --imei must be/, 2],
    [["--imei", IMEI, "--imei2", "4901542032375x8"], /error E_USAGE: --imei2 must be/, 2],
    [["--imei", IMEI, "--model", "x".repeat(33)], /error E_USAGE/, 2],
    [["--imei", IMEI, "--oem-id", "0011"], /error E_USAGE/, 2],
  ];
  await Promise.all(
    cases.map(async ([extra, err, code]) => {
      const dir = join(c.dir, "bad-" + Math.random().toString(16).slice(2));
      const r = await runAsync("factory", "provision", "--dir", dir, "--oem-key", c.oemKey, "--registry-pub", c.regPub, "--model", "M", ...extra);
      assert.equal(r.status, code, `${extra.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, err);
      await assert.rejects(stat(dir), `${extra.join(" ")} created ${dir}`);
    }),
  );
  assert.deepEqual((await readdir(c.dir)).filter((n) => n.includes("provisioning")), [], "no staging folders left behind");
});

test("device attest | verify: round trip with claims JSON; wrong nonce or another OEM key fail with the code", async () => {
  const c = await ctx();
  const nonce = "a5".repeat(32);
  const a = run("device", "attest", "--dir", c.device, "--nonce", nonce, "--measurement", "01".repeat(32));
  assert.equal(a.status, 0, a.stderr);
  const token = a.stdout.trim();
  assert.match(token, /^d83dd284[0-9a-f]+$/);
  const endorsement = join(c.device, "endorsement.cbor");
  const v = run("verify", "--token", token, "--endorsement", endorsement, "--oem-pub", c.oemPub, "--nonce", nonce);
  assert.equal(v.status, 0, v.stderr);
  const claims = JSON.parse(v.stdout);
  assert.equal(claims.imei, IMEI);
  assert.equal(claims.tampered, false);
  assert.equal(claims.lockState, 0);
  assert.equal(claims.token.nonce, nonce);
  assert.equal(claims.token.measurements[0].digest, "01".repeat(32));
  assert.equal(claims.hwmodel, "Example Phone 1", "the model as text, not hex");

  const flipped = token.slice(0, -2) + (token.endsWith("00") ? "01" : "00");
  const [wrongNonce, otherOem, forged, short] = await Promise.all([
    runAsync("verify", "--token", token, "--endorsement", endorsement, "--oem-pub", c.oemPub, "--nonce", "a6".repeat(32)),
    runAsync("verify", "--token", token, "--endorsement", endorsement, "--oem-pub", c.regPub, "--nonce", nonce),
    runAsync("verify", "--token", flipped, "--endorsement", endorsement, "--oem-pub", c.oemPub, "--nonce", nonce),
    runAsync("device", "attest", "--dir", c.device, "--nonce", "00".repeat(7)),
  ]);
  assert.equal(wrongNonce.status, 1);
  assert.match(wrongNonce.stderr, /^error E_NONCE_MISMATCH: /);
  assert.equal(wrongNonce.stdout, "");
  assert.equal(otherOem.status, 1);
  assert.match(otherOem.stderr, /^error E_ENDORSEMENT_UNTRUSTED: /);
  assert.equal(forged.status, 1);
  assert.match(forged.stderr, /^error E_COSE_SIGNATURE: /);
  assert.equal(short.status, 1);
  assert.match(short.stderr, /^error ERR_NONCE_SIZE/);
});

test("device claim-proof: a registration-purpose token for SHA-512(\"antitheft/v1/claim\" || code)[0..32]; read-only", async () => {
  const c = await ctx();
  const before = await tree(c.device);
  const r = run("device", "claim-proof", "--dir", c.device, "--code", "7k3qm-x9p2d");
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(await tree(c.device), before, "the folder is untouched");
  const token = new Uint8Array(Buffer.from(r.stdout.trim(), "hex"));
  const session = await DeviceSession.boot(DeviceFolder.at(c.device), taModule(), { commit: false });
  const nonce = claimNonce("7K3QM-X9P2D");
  const verify = (purposes: (typeof INTUSE)[keyof typeof INTUSE][]) => {
    const nonces = new NonceStore({ ttlMs: 60_000 });
    nonces.register(nonce);
    return verifyDeviceToken({ token, nonce }, { deviceKey: session.devicePublic, imei: IMEI }, { nonces, expect: { purposes } });
  };
  const v = verify([INTUSE.REGISTRATION]);
  assert.ok(v.ok, v.ok ? "" : v.error.message);
  assert.equal(v.value.token.intuse, INTUSE.REGISTRATION);
  const g = verify([INTUSE.GENERIC]);
  assert.ok(!g.ok && g.error.code === "E_PURPOSE", "not accepted where a generic token is expected");
  const bad = run("device", "claim-proof", "--dir", c.device, "--code", "not-a-code");
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--code/);
});

test("device status and factory-reset: read-only inspection; reset wipes userdata/ and keeps the TA state", async () => {
  const c = await ctx();
  const s1 = run("device", "status", "--dir", c.device);
  assert.equal(s1.status, 0, s1.stderr);
  const st = JSON.parse(s1.stdout);
  assert.equal(st.imei, IMEI);
  assert.equal(st.locked, false);
  assert.equal(st.tampered, false);
  const before = await tree(c.device);
  assert.equal(run("device", "status", "--dir", c.device).status, 0);
  assert.deepEqual(await tree(c.device), before, "status changes nothing");

  const folder = DeviceFolder.at(c.device);
  await folder.writeUserData("photos/1.jpg", new Uint8Array([1, 2, 3]));
  await folder.writeUserData("notes.txt", new Uint8Array([4]));
  const r = run("device", "factory-reset", "--dir", c.device);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /wiped 2 user-data item\(s\); Trusted App state kept: unlocked/);
  assert.deepEqual(await folder.listUserData(), []);
  assert.deepEqual(await tree(c.device), before, "fuse, sealed state, counter, endorsement untouched");
  assert.equal(run("device", "status", "--dir", join(c.dir, "nothing-here")).status, 1);
});

test("device factory-reset: a TAMPERED (locked) handset stays locked", async () => {
  const c = await ctx();
  const dir = join(c.dir, "tampered");
  assert.equal(run("factory", "provision", "--dir", dir, "--imei", "356938035643809", "--oem-key", c.oemKey, "--registry-pub", c.regPub, "--model", "T").status, 0);
  const blob = await readFile(join(dir, "sealed.bin"));
  blob[20] = 0; // lock_state byte: an attacker "unlocks" by editing the blob -> the MAC fails
  blob[blob.length - 1]! ^= 1;
  await writeFile(join(dir, "sealed.bin"), blob);
  const r = run("device", "factory-reset", "--dir", dir);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /LOCKED \(TAMPERED\)/);
  const st = JSON.parse(run("device", "status", "--dir", dir).stdout);
  assert.equal(st.locked, true);
  assert.equal(st.tampered, true);
});

test("device factory-reset: a handset locked by a registry command stays locked", async () => {
  const c = await ctx();
  const dir = join(c.dir, "locked");
  const p = run("factory", "provision", "--dir", dir, "--imei", "356938035643809", "--oem-key", c.oemKey, "--registry-pub", c.regPub, "--model", "L");
  assert.equal(p.status, 0, p.stderr);
  const info = JSON.parse(p.stdout);
  const folder = DeviceFolder.at(dir);
  const session = await DeviceSession.boot(folder, taModule());
  const registry = nodeSigner(createPrivateKey(await readFile(c.regKey, "utf8")));
  const outcome = await session.applyCommand(signCommand(registry, { imei: info.imei, did: info.did, seq: 1, action: 1, message: "Stolen", contact: "999" }));
  assert.deepEqual(outcome, { kind: "accepted" });
  await folder.writeUserData("photo.jpg", new Uint8Array([1]));
  const r = run("device", "factory-reset", "--dir", dir);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /wiped 1 user-data item\(s\); Trusted App state kept: LOCKED/);
  const st = JSON.parse(run("device", "status", "--dir", dir).stdout);
  assert.equal(st.locked, true);
  assert.equal(st.lock, 2);
  assert.equal(st.message, "Stolen");
});

test("factory provision into a folder whose parent does not exist is refused and creates nothing", async () => {
  const c = await ctx();
  const missing = join(c.dir, "no-such-parent-" + Math.random().toString(16).slice(2));
  const r = run("factory", "provision", "--dir", join(missing, "phone"), "--imei", "356938035643809", "--oem-key", c.oemKey, "--registry-pub", c.regPub, "--model", "T");
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^error E_STORAGE: the parent folder .*no-such-parent-[0-9a-f]+ does not exist/);
  await assert.rejects(stat(missing), "the parent was not created");
});
