// Constant-time check of the release TA (ctgrind): its C build runs under valgrind memcheck
// with the secret inputs marked undefined; public-key derivation, signing, HKDF, HMAC and
// SHA-512 of secret data must report zero errors. NEGATIVE CONTROL: a test-only build with
// deliberately secret-dependent code (test/ct/leak.ts: a secret-dependent branch and a
// secret-indexed table load) goes through the SAME check, which must flag both - so a green
// result here means something.
//
// Identity: the HUK is secret in every call of a whole host session - in the I/O
// buffer for boot, then where the TA keeps it in its own memory (the driver declassifies all
// memory after each call, so every later call marks it again). Key derivation (first boot),
// provisioning (the blob MAC), attest (signing) and apply_command (re-sealing) report zero
// errors with no suppression at all. Boot WITH a blob must decide NORMAL or TAMPERED from the
// MAC verdict: that one bit becomes public by design (it is the boot state), so its single
// branch is reported. The boot test below shows, without any suppression, that it is exactly
// one error, a conditional jump whose innermost frame is the wasm2c function of stateBoot
// (the one function the `boot` export calls), then runs whole sessions with ONE suppression
// that matches only that frame (called from w2c_boot, called from the export), and asserts it
// hid exactly one error. Errors in any callee (HKDF, HMAC, SHA-512, Ed25519, ctEqual, the body
// checks) have another innermost frame and stay reported. docs/ABI.md ("Constant time") says the same.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DeviceTA, type ProvisionData } from "../agent/device-ta.js";
import { TrustedApp } from "../agent/trusted-app.js";
import { kidOfPublic, privateKeyFromSeed, ueidFromImei } from "../attestation/index.js";
import { signCommand } from "../registry/commands.js";
import { signingKey } from "../registry/keys.js";
import { needTool } from "./support/system-tools.js";
import { buildTaC, type CBuild } from "./support/wasm2c.js";
import { buildLeakWasm, memcheck, type MemcheckResult, type SecretCall } from "./support/ctgrind.js";
import { RecordingCaller } from "./support/ta-recorder.js";
import { compileTa, concat, TA_WASM } from "./support/ta.js";

const TOOLS = ["wasm2c", "gcc", "valgrind"] as const;
let release: CBuild | undefined;
const releaseBuild = () => (release ??= buildTaC({ wasm: TA_WASM, name: "ct-release", memcheck: true }));

/** Deterministic test bytes (their values do not matter to the check, only that they are secret). */
const bytes = (label: string, n: number) => {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 64) out.set(createHash("sha512").update(`${label}/${i}`).digest().subarray(0, Math.min(64, n - i)), i);
  return out;
};
const text = (s: string) => new TextEncoder().encode(s);

// --- identity: whole host sessions through agent/device-ta.ts, HUK secret throughout ---

const MODULE = compileTa();
const NONE = new Uint8Array(0);
const HUK = bytes("huk", 32);
const IMEI = "490154203237518";
const REGISTRY = signingKey(privateKeyFromSeed(bytes("registry seed", 32)));
const PROVISION: ProvisionData = {
  imei: IMEI,
  imei2: "356938035643809",
  oemid: Uint8Array.from([0xac, 0xde, 0x48]),
  hwmodel: "CT-Phone",
  registryKeys: [REGISTRY.publicKey],
};
const NONCE = bytes("nonce", 32);
const MEASUREMENT = bytes("measurement", 32);

const hukAt = new Map<WebAssembly.Module, number>();
/**
 * Offset from io_ptr of the TA's own copy of the HUK (kept from boot on): found by booting a
 * Node instance with a marker HUK and searching its memory; there must be exactly one copy.
 */
function hukOffset(module: WebAssembly.Module = MODULE): number {
  const known = hukAt.get(module);
  if (known !== undefined) return known;
  const ex = new WebAssembly.Instance(module, { env: { abort() {} } }).exports as Record<string, CallableFunction> & { memory: WebAssembly.Memory };
  const io = ex.io_ptr!() as number;
  const marker = bytes("huk marker", 32);
  new Uint8Array(ex.memory.buffer).set(marker, io);
  assert.equal(ex.boot!(0, 0, 0), 0);
  const mem = Buffer.from(ex.memory.buffer);
  const hits: number[] = [];
  for (let at = mem.indexOf(marker); at >= 0; at = mem.indexOf(marker, at + 1)) hits.push(at);
  assert.equal(hits.length, 1, `the TA keeps exactly one copy of the HUK (found at ${hits.join(", ")})`);
  hukAt.set(module, hits[0]! - io);
  return hits[0]! - io;
}

/**
 * A host session recorded through DeviceTA in Node; each of its calls becomes a SecretCall with
 * the HUK secret: io[0, 32) for boot, the TA's own copy for every later call.
 */
function session(run: (dev: DeviceTA) => void): SecretCall[] {
  const rec = new RecordingCaller(TrustedApp.fromModule(MODULE));
  run(new DeviceTA(rec));
  const huk = hukOffset();
  return rec.calls.map((c) => ({ name: c.name, args: c.args, input: c.input, secret: c.name === "boot" ? [[0, 32]] : [[huk, 32]] }));
}

/** Lock (with a lock-screen text) and unlock for the device of HUK/PROVISION, signed by the registry. */
function commandsFor(dev: DeviceTA): { lock: Uint8Array; unlock: Uint8Array } {
  const target = { ueid: ueidFromImei(IMEI), deviceKid: kidOfPublic(dev.devicePublic()) };
  return {
    lock: signCommand(REGISTRY, { ...target, seq: 1, action: 1, message: "Stolen", contact: "+41 79 000 00 00" }),
    unlock: signCommand(REGISTRY, { ...target, seq: 2, action: 2 }),
  };
}

/** The version-1 blob of HUK/PROVISION (computed in Node: the blob itself is public). */
function provisionedBlob(): Uint8Array {
  const dev = DeviceTA.fromModule(MODULE);
  dev.boot(HUK, NONE, 0, 1);
  return dev.provision(PROVISION);
}

/** The secret-handling calls of ABI v1 and of the identity exports that need no exclusion. */
function secretCalls(): Record<string, SecretCall[]> {
  const seeds = [0, 1, 2].map((i) => bytes(`seed${i}`, 32));
  const info = text("antitheft/v1/device-attestation-key");
  return {
    "identity, factory session (HUK secret): boot without a blob (key derivation), provision (sealing), attest, apply_command lock + unlock (re-sealing), sealed_state":
      session((dev) => {
        dev.boot(HUK, NONE, 0, 1);
        dev.provision(PROVISION);
        dev.attest(NONCE, MEASUREMENT);
        const { lock, unlock } = commandsFor(dev);
        dev.applyCommand(lock);
        dev.attest(NONCE, NONE);
        dev.applyCommand(unlock);
        dev.sealedState();
      }),
    "identity, no blob while the counter is 3 (HUK secret): key derivation, TAMPERED attest": session((dev) => {
      dev.boot(HUK, NONE, 3, 2);
      dev.attest(NONCE, MEASUREMENT);
    }),
    "ed25519_public (seed secret)": seeds.map((seed) => ({ name: "ed25519_public", args: [], input: seed, secret: [[0, 32]] })),
    "ed25519_sign (seed secret; message public)": [0, 1, 100, 1000].map((n, i) => ({
      name: "ed25519_sign",
      args: [n],
      input: concat(seeds[i % 3]!, bytes(`msg${n}`, n)),
      secret: [[0, 32]],
    })),
    "hkdf_sha512 (ikm secret; salt and info public)": [
      [32, 0, 32],
      [32, 16, 64],
      [64, 0, 100],
      [32, 0, 255 * 64],
    ].map(([ikmLen, saltLen, outLen]) => ({
      name: "hkdf_sha512",
      args: [ikmLen!, saltLen!, info.length, outLen!],
      input: concat(bytes("ikm", ikmLen!), bytes("salt", saltLen!), info),
      secret: [[0, ikmLen!]],
    })),
    "hmac_sha512 (key secret, up to and over one block)": [16, 64, 128, 200].map((keyLen) => ({
      name: "hmac_sha512",
      args: [keyLen, 50],
      input: concat(bytes("key", keyLen), bytes("data", 50)),
      secret: [[0, keyLen]],
    })),
    "sha512 (whole message secret)": [0, 111, 112, 1000].map((n) => ({
      name: "sha512",
      args: [n],
      input: bytes("secret message", n),
      secret: n ? [[0, n]] : [],
    })),
  };
}

test("constant time: the release TA reports zero memcheck errors on every secret-handling export", async (t) => {
  if (!needTool(t, ...TOOLS)) return;
  const build = releaseBuild();
  const entries = Object.entries(secretCalls());
  const results = await Promise.all(entries.map(([, calls]) => memcheck(build, calls)));
  const failures: string[] = [];
  entries.forEach(([label, calls], i) => {
    const r = results[i]!;
    t.diagnostic(`${label}: ${calls.length} calls, ${r.errors} memcheck errors`);
    // every call completed with its normal output (the check ran the real code path)
    assert.equal(r.lines.filter((l) => l !== "ok").length, calls.length, `${label}: ${r.lines.join(" | ").slice(0, 300)}`);
    assert.ok(r.lines.filter((l) => l !== "ok").every((l) => /^\d+ /.test(l)), `${label}: a call failed`);
    if (r.errors !== 0 || r.status !== 0) failures.push(`${label}: ${r.errors} errors (${r.kinds.join("; ")})\n${r.stderr.slice(0, 3000)}`);
  });
  assert.deepEqual(failures, []);
});

/**
 * The C name of stateBoot in a wasm2c build: the one internal function the `boot` export calls
 * (wasm2c numbers internal functions, w2c_f<N>, so the name is read from this build's ta.c).
 */
function stateBootFrame(build: CBuild): string {
  const c = readFileSync(join(build.dir, "ta.c"), "utf8");
  const body = /^static u32 w2c_boot\(Z_ta_instance_t\* instance[^)]*\) \{\n([\s\S]*?)^\}/m.exec(c);
  assert.ok(body, "w2c_boot not found in ta.c");
  const callees = [...new Set([...body[1]!.matchAll(/\b(w2c_f\d+)\(instance\b/g)].map((m) => m[1]!))];
  assert.equal(callees.length, 1, `boot calls exactly one internal function (stateBoot): ${callees.join(", ")}`);
  return callees[0]!;
}

const VERDICT = "ta-boot-mac-verdict";

/**
 * The one suppression: a conditional jump whose INNERMOST frame is stateBoot itself, called by
 * w2c_boot, called by the export. Nothing else matches: not another error kind, not a branch
 * in any function stateBoot calls (their own frame comes first), not another export.
 */
function writeVerdictSuppression(build: CBuild, frame: string): string {
  const file = join(build.dir, `${VERDICT}.supp`);
  writeFileSync(file, ["{", `   ${VERDICT}`, "   Memcheck:Cond", `   fun:${frame}`, "   fun:w2c_boot", "   fun:Z_taZ_boot", "}", ""].join("\n"));
  return file;
}

/** Innermost two frames and the ta.c line of every memcheck error in a run. */
function errorSites(r: MemcheckResult): { kind: string; frame: string; line: number; caller: string }[] {
  return [...r.stderr.matchAll(/^==\d+== (\w[^\n]*)\n==\d+==\s+at 0x[0-9A-F]+: (\w+) \(ta\.c:(\d+)\)\n==\d+==\s+by 0x[0-9A-F]+: (\w+)/gm)].map(
    (m) => ({ kind: m[1]!, frame: m[2]!, line: Number(m[3]), caller: m[4]! }),
  );
}

test("constant time, boot with a sealed blob: the MAC verdict is the single secret-dependent branch, and only it is excluded", async (t) => {
  if (!needTool(t, ...TOOLS)) return;
  const build = releaseBuild();
  const frame = stateBootFrame(build);
  const supp = writeVerdictSuppression(build, frame);
  const v1 = provisionedBlob();
  const altered = v1.slice();
  altered[v1.length - 1]! ^= 1; // a MAC byte: TAMPERED by the verdict itself
  const normal = session((dev) => {
    assert.equal(dev.boot(HUK, v1, 1, 1).taState, 0);
    dev.attest(NONCE, MEASUREMENT);
    dev.applyCommand(commandsFor(dev).lock);
    dev.sealedState();
  });
  const tampered = session((dev) => {
    assert.equal(dev.boot(HUK, altered, 1, 1).taState, 1);
    dev.attest(NONCE, MEASUREMENT);
  });
  const runs = {
    "NORMAL boot alone, no suppression": memcheck(build, normal.slice(0, 1)),
    "TAMPERED boot alone, no suppression": memcheck(build, tampered.slice(0, 1)),
    "NORMAL session (boot, lock_state, attest, apply_command, sealed_state) with the one suppression": memcheck(build, normal, [`--suppressions=${supp}`, "-s"]),
    "TAMPERED session (boot, lock_state, attest) with the one suppression": memcheck(build, tampered, [`--suppressions=${supp}`, "-s"]),
  };
  const [bootN, bootT, sessN, sessT] = await Promise.all(Object.values(runs));
  const taC = readFileSync(join(build.dir, "ta.c"), "utf8").split("\n");
  Object.keys(runs).forEach((label, i) => {
    const r = [bootN, bootT, sessN, sessT][i]!;
    t.diagnostic(`${label}: ${r.errors} errors, ${r.suppressed} suppressed`);
  });

  // 1. without any suppression, boot reports exactly one error: a conditional jump in stateBoot's own body
  for (const [r, out] of [[bootN!, /^422 /], [bootT!, /^0 -$/]] as const) {
    assert.equal(r.errors, 1, r.stderr);
    assert.equal(r.status, 99);
    const sites = errorSites(r);
    assert.equal(sites.length, 1, r.stderr);
    assert.match(sites[0]!.kind, /^Conditional jump or move depends on uninitialised value/);
    assert.deepEqual([sites[0]!.frame, sites[0]!.caller], [frame, "w2c_boot"], r.stderr);
    assert.match(taC[sites[0]!.line - 1]!, /^\s*if \(/, "the reported line is a branch");
    assert.match(r.lines.filter((l) => l !== "ok")[0]!, out);
    t.diagnostic(`verdict branch: ${frame} (ta.c:${sites[0]!.line}: ${taC[sites[0]!.line - 1]!.trim()})`);
  }
  // 2. whole sessions with the suppression: zero errors, and it hid exactly that one error
  for (const [r, calls] of [[sessN!, normal], [sessT!, tampered]] as const) {
    assert.equal(r.errors, 0, r.stderr);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.suppressed, 1, r.stderr);
    assert.deepEqual([...r.usedSuppressions], [[VERDICT, 1]]);
    const answers = r.lines.filter((l) => l !== "ok");
    assert.equal(answers.length, calls.length);
    assert.ok(answers.every((l) => /^\d+ /.test(l)), answers.join(" | ").slice(0, 300));
  }
});

test("negative control: the same check flags a secret-dependent branch and a secret-indexed load", async (t) => {
  if (!needTool(t, ...TOOLS)) return;
  const wasm = buildLeakWasm();
  const build = buildTaC({ wasm, name: "ct-leak", memcheck: true });
  // the leak functions take the secret's address: the leaky build's I/O buffer
  const probe = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(readFileSync(wasm))), { env: { abort() {} } });
  const io = (probe.exports.io_ptr as () => number)();
  const secret = bytes("leak", 16);
  const leakCall = (name: string, marked: boolean): SecretCall => ({ name, args: [io, 16], input: secret, secret: marked ? [[0, 16]] : [] });

  // the identity checks mark the TA's own copy of the HUK after boot: a leak that reads that
  // copy must be flagged too (so the marking reaches live TA state, not a dead copy)
  const huk = hukOffset(new WebAssembly.Module(new Uint8Array(readFileSync(wasm))));
  const hukLeak = (marked: boolean): SecretCall[] => [
    { name: "boot", args: [0, 0, 1], input: HUK, secret: [[0, 32]] },
    { name: "ct_leak_branch", args: [io + huk, 32], input: NONE, secret: marked ? [[huk, 32]] : [] },
  ];

  const [branch, index, branchPublic, indexPublic, signInLeakBuild, hukBranch, hukPublic] = await Promise.all([
    memcheck(build, [leakCall("ct_leak_branch", true)]),
    memcheck(build, [leakCall("ct_leak_index", true)]),
    memcheck(build, [leakCall("ct_leak_branch", false)]),
    memcheck(build, [leakCall("ct_leak_index", false)]),
    memcheck(build, secretCalls()["ed25519_sign (seed secret; message public)"]!),
    memcheck(build, hukLeak(true)),
    memcheck(build, hukLeak(false)),
  ]);
  t.diagnostic(`branch on a secret: ${branch.errors} errors (${branch.kinds.join("; ")})`);
  t.diagnostic(`secret-indexed load: ${index.errors} errors (${index.kinds.join("; ")})`);
  assert.ok(branch.errors > 0 && branch.status === 99, "a secret-dependent branch must be flagged");
  assert.ok(branch.kinds.some((k) => k.startsWith("Conditional jump")), branch.kinds.join("; "));
  assert.ok(index.errors > 0 && index.status === 99, "a secret-indexed load must be flagged");
  assert.ok(index.kinds.some((k) => k.startsWith("Use of uninitialised value")), "the secret address itself is flagged");
  // controls of the control: the same code on public data is clean, and so is the real
  // signing code in the very same binary - the errors come from the secret dependence only
  assert.equal(branchPublic.errors, 0, branchPublic.stderr);
  assert.equal(indexPublic.errors, 0, indexPublic.stderr);
  assert.equal(signInLeakBuild.errors, 0, signInLeakBuild.stderr);
  t.diagnostic(`branch on the TA's HUK copy after boot: ${hukBranch.errors} errors; unmarked: ${hukPublic.errors}`);
  assert.ok(hukBranch.errors > 0 && hukBranch.status === 99, "a branch on the marked HUK copy must be flagged");
  assert.equal(hukPublic.errors, 0, hukPublic.stderr);
  assert.deepEqual([hukBranch.lines, hukPublic.lines].map((l) => l.filter((x) => x !== "ok")), [["0 -", "0 -"], ["0 -", "0 -"]]);
});
