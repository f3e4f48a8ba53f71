// Constant-time check of the release TA (ctgrind): its C build runs under valgrind memcheck
// with the secret inputs marked undefined; public-key derivation, signing, HKDF, HMAC and
// SHA-512 of secret data must report zero errors. NEGATIVE CONTROL: a test-only build with
// deliberately secret-dependent code (test/ct/leak.ts: a secret-dependent branch and a
// secret-indexed table load) goes through the SAME check, which must flag both - so a green
// result here means something.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { needTool } from "./support/system-tools.js";
import { buildTaC, type CBuild } from "./support/wasm2c.js";
import { buildLeakWasm, memcheck, type SecretCall } from "./support/ctgrind.js";
import { concat, TA_WASM } from "./support/ta.js";

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

/** The secret-handling calls of ABI v1; issue 3 adds boot (HUK), attest and sealing here. */
function secretCalls(): Record<string, SecretCall[]> {
  const seeds = [0, 1, 2].map((i) => bytes(`seed${i}`, 32));
  const info = text("antitheft/v1/device-attestation-key");
  return {
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

test("negative control: the same check flags a secret-dependent branch and a secret-indexed load", async (t) => {
  if (!needTool(t, ...TOOLS)) return;
  const wasm = buildLeakWasm();
  const build = buildTaC({ wasm, name: "ct-leak", memcheck: true });
  // the leak functions take the secret's address: the leaky build's I/O buffer
  const probe = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(readFileSync(wasm))), { env: { abort() {} } });
  const io = (probe.exports.io_ptr as () => number)();
  const secret = bytes("leak", 16);
  const leakCall = (name: string, marked: boolean): SecretCall => ({ name, args: [io, 16], input: secret, secret: marked ? [[0, 16]] : [] });

  const [branch, index, branchPublic, indexPublic, signInLeakBuild] = await Promise.all([
    memcheck(build, [leakCall("ct_leak_branch", true)]),
    memcheck(build, [leakCall("ct_leak_index", true)]),
    memcheck(build, [leakCall("ct_leak_branch", false)]),
    memcheck(build, [leakCall("ct_leak_index", false)]),
    memcheck(build, secretCalls()["ed25519_sign (seed secret; message public)"]!),
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
});
