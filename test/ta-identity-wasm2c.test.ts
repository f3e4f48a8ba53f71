// The identity golden vectors (test/vectors/identity-golden.json) in the wasm2c C build: the same
// host procedure (agent/device-ta.ts over a TaCaller) runs once over the release TA in Node and
// once over its C build, and both must give the golden bytes and identical answers to every call.
// Each TA instance in C is one driver process that carries state from call to call (boot ->
// provision -> attest -> apply_command ...); a reboot is a NEW process fed the blob and counter
// that the C run itself produced. On top of the golden procedure, each case applies a lock and
// then an unlock command signed in TypeScript by the registry's builder (registry/commands.ts),
// reads lock_state and sealed_state, replays the lock (refused), and reboots from the stored blob.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { DeviceTA, sealedBlobVersion, TA_STATE, type ProvisionData, type TaCaller } from "../agent/device-ta.js";
import { TA_ERRORS, TaError } from "../agent/ta-errors.js";
import { TrustedApp } from "../agent/trusted-app.js";
import { privateKeyFromSeed, ueidFromImei } from "../attestation/index.js";
import { signCommand } from "../registry/commands.js";
import { signingKey, type SigningKey } from "../registry/keys.js";
import { needTool } from "./support/system-tools.js";
import { buildTaC, type CBuild } from "./support/wasm2c.js";
import { CProcessCaller } from "./support/ta-recorder.js";
import { compileTa, hex, ROOT, TA_WASM, unhex } from "./support/ta.js";

interface GoldenCase {
  name: string;
  huk: string;
  factory: null | {
    dbgstat: number;
    provision: { imei: string; imei2: string | null; oemid: string; hwmodel: string; registry_keys: string[] };
  };
  boot: null | { blob: "provision_blob" | "none"; counter: number; dbgstat: number };
  attest: { nonce: string; measurement: string; purpose: number };
  expected: {
    device_public: string;
    kid: string;
    provision_blob: string | null;
    boot_blob: string | null;
    ta_state: number;
    token: string;
  };
}

const golden = JSON.parse(readFileSync(`${ROOT}test/vectors/identity-golden.json`, "utf8")) as { cases: GoldenCase[] };
const MODULE = compileTa();
const NONE = new Uint8Array(0);
const E_TAMPERED = TA_ERRORS.ERR_TAMPERED.code;
const E_REPLAY = TA_ERRORS.ERR_CMD_REPLAY.code;
/** The registry keys the golden cases provision are the Ed25519 keys of these seeds (each byte repeated 32 times). */
const REGISTRY_KEYS: SigningKey[] = [0x42, 0x01, 0x02].map((b) => signingKey(privateKeyFromSeed(new Uint8Array(32).fill(b))));

let build: CBuild | undefined;
const cBuild = (): CBuild => (build ??= buildTaC({ wasm: TA_WASM, name: "identity-wasm2c" }));

function provisionData(p: NonNullable<GoldenCase["factory"]>["provision"]): ProvisionData {
  return { imei: p.imei, imei2: p.imei2 ?? undefined, oemid: unhex(p.oemid), hwmodel: unhex(p.hwmodel), registryKeys: p.registry_keys.map(unhex) };
}

/** The lock and unlock commands of a case, signed once by the registry key it provisions. */
function commands(c: GoldenCase): { lock: Uint8Array; unlock: Uint8Array } {
  const pub = c.factory?.provision.registry_keys[0];
  // the TAMPERED case has no provisioning: any registry key will do, the TA refuses first
  const key = pub === undefined ? REGISTRY_KEYS[0]! : REGISTRY_KEYS.find((k) => hex(k.publicKey) === pub);
  assert.ok(key, `no known seed for registry key ${pub}`);
  const ueid = ueidFromImei(c.factory?.provision.imei ?? "490154203237518");
  const deviceKid = unhex(c.expected.kid);
  return {
    lock: signCommand(key, { ueid, deviceKid, seq: 1, action: 1, message: "Stolen phone - reward", contact: "+41 79 000 00 00" }),
    unlock: signCommand(key, { ueid, deviceKid, seq: 2, action: 2 }),
  };
}

/** The output bytes as hex, or "refused <code>" when the TA refused (DeviceTA throws TaError). */
function outcome(f: () => Uint8Array): string {
  try {
    return hex(f());
  } catch (e) {
    if (e instanceof TaError) return `refused ${e.code}`;
    throw e;
  }
}

/**
 * The golden procedure (the vector file's "procedure"), then the commands and a reboot. `fresh`
 * gives a new TA instance: a new one for every boot. Returns every answer, by step.
 */
function runCase(c: GoldenCase, cmds: { lock: Uint8Array; unlock: Uint8Array }, fresh: () => TaCaller): Map<string, string> {
  const t = new Map<string, string>();
  const huk = unhex(c.huk);
  const boot = (dev: DeviceTA, blob: Uint8Array, counter: number, dbgstat: number) => {
    const r = dev.boot(huk, blob, counter, dbgstat);
    return JSON.stringify({ taState: r.taState, blob: r.blob === null ? null : hex(r.blob) });
  };
  let dev: DeviceTA | undefined;
  let dbgstat = 0;
  if (c.factory) {
    dev = new DeviceTA(fresh());
    dbgstat = c.factory.dbgstat;
    t.set("factory boot", boot(dev, NONE, 0, dbgstat));
    t.set("provision", outcome(() => dev!.provision(provisionData(c.factory!.provision))));
  }
  if (c.boot) {
    dev = new DeviceTA(fresh()); // a reboot: a new instance (in C, a new process)
    dbgstat = c.boot.dbgstat;
    // the blob this very runtime produced at the factory, not the vector file's copy
    const blob = c.boot.blob === "provision_blob" ? unhex(t.get("provision")!) : NONE;
    t.set("boot", boot(dev, blob, c.boot.counter, dbgstat));
  }
  assert.ok(dev, "a case boots at least once");
  const d = dev;
  const attest = () => outcome(() => d.attest(unhex(c.attest.nonce), unhex(c.attest.measurement), c.attest.purpose));
  t.set("device_public", hex(d.devicePublic()));
  t.set("lock_state", JSON.stringify(d.lockState()));
  t.set("attest", attest());
  t.set("apply lock", outcome(() => d.applyCommand(cmds.lock)));
  t.set("lock_state after lock", JSON.stringify(d.lockState()));
  t.set("sealed_state after lock", outcome(() => d.sealedState()));
  t.set("attest after lock", attest());
  t.set("apply lock again", outcome(() => d.applyCommand(cmds.lock)));
  t.set("apply unlock", outcome(() => d.applyCommand(cmds.unlock)));
  t.set("lock_state after unlock", JSON.stringify(d.lockState()));
  t.set("sealed_state after unlock", outcome(() => d.sealedState()));
  const stored = t.get("apply unlock")!;
  if (!stored.startsWith("refused")) {
    // the host stored the unlock's blob and committed its version to the counter; reboot
    const again = new DeviceTA(fresh());
    t.set("reboot", boot(again, unhex(stored), sealedBlobVersion(unhex(stored)), dbgstat));
    t.set("lock_state after reboot", JSON.stringify(again.lockState()));
    t.set("attest after reboot", outcome(() => again.attest(unhex(c.attest.nonce), unhex(c.attest.measurement), c.attest.purpose)));
  }
  return t;
}

/** What the vector file fixes, and what the commands must have done, for one runtime's answers. */
function assertGolden(c: GoldenCase, t: Map<string, string>, runtime: string) {
  const at = (step: string) => `${runtime}, ${c.name}, ${step}`;
  const x = c.expected;
  if (c.factory) {
    assert.deepEqual(JSON.parse(t.get("factory boot")!), { taState: TA_STATE.UNPROVISIONED, blob: null }, at("factory boot"));
    assert.equal(t.get("provision"), x.provision_blob, at("provision"));
  }
  if (c.boot) assert.equal(JSON.parse(t.get("boot")!).blob, x.boot_blob, at("boot"));
  assert.equal(t.get("device_public"), x.device_public, at("device_public"));
  assert.equal(JSON.parse(t.get("lock_state")!).taState, x.ta_state, at("lock_state"));
  assert.equal(t.get("attest"), x.token, at("attest"));
  assert.equal(t.get("attest")!.slice(22, 54), x.kid, at("token kid"));
  if (x.ta_state === TA_STATE.TAMPERED) {
    for (const step of ["apply lock", "sealed_state after lock", "apply lock again", "apply unlock", "sealed_state after unlock"]) {
      assert.equal(t.get(step), `refused ${E_TAMPERED}`, at(step));
    }
    assert.equal(t.get("attest after lock"), x.token, at("attest after a refused command"));
    assert.ok(!t.has("reboot"));
    return;
  }
  const lock = JSON.parse(t.get("lock_state after lock")!);
  assert.deepEqual([lock.lockState, lock.lastSeq, lock.message, lock.contact], [2, 1, "Stolen phone - reward", "+41 79 000 00 00"], at("locked"));
  assert.equal(t.get("sealed_state after lock"), t.get("apply lock"), at("sealed_state = the lock's blob"));
  assert.notEqual(t.get("attest after lock"), x.token, at("the token changes with the lock state"));
  assert.equal(t.get("apply lock again"), `refused ${E_REPLAY}`, at("replayed lock"));
  const unlock = JSON.parse(t.get("lock_state after unlock")!);
  assert.deepEqual([unlock.lockState, unlock.lastSeq, unlock.message], [0, 2, ""], at("unlocked"));
  assert.equal(t.get("sealed_state after unlock"), t.get("apply unlock"), at("sealed_state = the unlock's blob"));
  const reboot = JSON.parse(t.get("reboot")!);
  assert.equal(reboot.taState, TA_STATE.NORMAL, at("reboot"));
  const after = JSON.parse(t.get("lock_state after reboot")!);
  assert.deepEqual([after.lockState, after.lastSeq, after.bootcount], [0, 2, unlock.bootcount + 1], at("after reboot"));
}

for (const c of golden.cases) {
  test(`wasm2c golden ${c.name}: the golden procedure, then lock, unlock and a reboot, byte-identical in C and Node`, (t) => {
    if (!needTool(t, "wasm2c", "gcc")) return;
    const cmds = commands(c);
    const node = runCase(c, cmds, () => TrustedApp.fromModule(MODULE));
    assertGolden(c, node, "Node");
    const processes: CProcessCaller[] = [];
    const inC = runCase(c, cmds, () => {
      const p = new CProcessCaller(cBuild());
      processes.push(p);
      return p;
    });
    assertGolden(c, inC, "C");
    assert.deepEqual([...inC.keys()], [...node.keys()]);
    for (const [step, value] of node) assert.equal(inC.get(step), value, `C and Node differ at "${step}"`);
    t.diagnostic(`${node.size} steps identical; C: ${processes.length} driver processes, ${processes.map((p) => p.script.length).join(" + ")} calls`);
  });
}
