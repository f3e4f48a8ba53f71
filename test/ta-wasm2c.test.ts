// The release TA as C: wasm2c + gcc + the generic driver (test/c/ta_driver.c) run the standard
// vectors, the ABI's malformed-length table, the Ed25519 verification edge-case table and a few
// hundred random calls; every output line must be byte-identical to the Node run through
// agent/trusted-app.ts. This is the runtime-neutrality proof of ABI v1, and how an OEM without
// a wasm runtime embeds the TA.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { needTool } from "./support/system-tools.js";
import { buildTaC, callLine, runC, runNode, type CBuild } from "./support/wasm2c.js";
import { compileTa, concat, hex, TA_WASM, unhex } from "./support/ta.js";
import { HMAC_VECTORS, RFC8032, SHA512_VECTORS } from "./support/vectors.js";
import { malformedLengthCases } from "./support/abi.js";
import { buildEdgeCases } from "./support/ed25519-edge.js";
import { misbehavingTaBytes } from "./support/tiny-wasm.js";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./support/ta.js";

const module = compileTa();
let build: CBuild | undefined;

function getBuild(): CBuild {
  build ??= buildTaC({ wasm: TA_WASM, name: "ta-wasm2c" });
  return build;
}

/** Deterministic pseudo-random bytes from a seed (SHA-512 in counter mode), for reproducible runs. */
function prng(seed: string) {
  let counter = 0;
  let pool: Uint8Array = new Uint8Array(0);
  const bytes = (n: number) => {
    while (pool.length < n) {
      pool = concat(pool, new Uint8Array(createHash("sha512").update(`${seed}/${counter++}`).digest()));
    }
    const out = pool.slice(0, n);
    pool = pool.slice(n);
    return out;
  };
  const int = (max: number) => (bytes(4).reduce((a, b) => a * 256 + b, 0) % (max + 1));
  return { bytes, int };
}

function compare(t: { diagnostic(m: string): void }, script: string[]) {
  const node = runNode(module, script);
  const c = runC(getBuild(), script);
  assert.equal(c.status, 0, c.stderr);
  const first = node.findIndex((line, i) => c.lines[i] !== line);
  if (first >= 0 || c.lines.length !== node.length) {
    const i = first >= 0 ? first : Math.min(node.length, c.lines.length);
    assert.fail(
      `C and Node differ at output ${i} (script line "${(script.filter((l) => l && !l.startsWith("#"))[i] ?? "").slice(0, 80)}"):\n` +
        `  C:    ${(c.lines[i] ?? "<none>").slice(0, 140)}\n  Node: ${(node[i] ?? "<none>").slice(0, 140)}`,
    );
  }
  t.diagnostic(`${node.length} output lines identical`);
  return c.lines;
}

test("wasm2c + gcc build the release TA with the generic driver; the dispatch table matches the module", (t) => {
  if (!needTool(t, "wasm2c", "gcc")) return;
  const b = getBuild();
  const lines = compare(t, ["info", "exports"]);
  assert.equal(lines[1], b.exports.map((e) => `${e.name}/${e.nargs}`).join(" "));
});

test("wasm2c: the standard vectors give byte-identical outputs in C and in Node (and the known answers)", (t) => {
  if (!needTool(t, "wasm2c", "gcc")) return;
  const script: string[] = ["# FIPS 180-4"];
  for (const v of SHA512_VECTORS) script.push(callLine("sha512", [v.msg.length], v.msg));
  script.push(callLine("sha512", [16384], new Uint8Array(16384).fill(0x61)));
  script.push("# RFC 4231");
  for (const v of HMAC_VECTORS) script.push(callLine("hmac_sha512", [v.key.length, v.data.length], concat(v.key, v.data)));
  script.push("# RFC 8032 §7.1");
  for (const v of RFC8032.vectors) {
    const [seed, msg, pub, sig] = [unhex(v.secret), unhex(v.message), unhex(v.public), unhex(v.signature)];
    script.push(callLine("ed25519_public", [], seed));
    script.push(callLine("ed25519_sign", [msg.length], concat(seed, msg)));
    script.push(callLine("ed25519_verify", [msg.length], concat(pub, sig, msg)));
  }
  script.push("# HKDF (RFC 5869) over the edges of L");
  const info = new TextEncoder().encode("antitheft/v1/device-attestation-key");
  for (const n of [0, 1, 32, 64, 65, 200, 255 * 64]) {
    script.push(callLine("hkdf_sha512", [32, 16, info.length, n], concat(new Uint8Array(32).fill(0x0b), new Uint8Array(16).fill(1), info)));
  }
  const lines = compare(t, script);
  // spot-check the C binary's answers against the standards directly
  assert.equal(lines[1], `64 ${SHA512_VECTORS[1]!.digest}`);
  const test1 = RFC8032.vectors[0]!;
  const i = SHA512_VECTORS.length + 1 + HMAC_VECTORS.length;
  assert.equal(lines[i], `32 ${test1.public}`);
  assert.equal(lines[i + 1], `64 ${test1.signature}`);
  assert.equal(lines[i + 2]!.split(" ")[0], "1");
});

test("wasm2c: every malformed length returns the same error code in C as in Node", (t) => {
  if (!needTool(t, "wasm2c", "gcc")) return;
  const lines = compare(t, malformedLengthCases(16384).map(([name, args]) => callLine(name, args)));
  for (const [k, [, , code]] of malformedLengthCases(16384).entries()) assert.equal(lines[k], `${code} -`);
});

test("wasm2c: the Ed25519 verification edge-case table gives the same verdicts in C", (t) => {
  if (!needTool(t, "wasm2c", "gcc")) return;
  const cases = buildEdgeCases();
  const lines = compare(
    t,
    cases.map((c) => callLine("ed25519_verify", [c.message.length], concat(c.publicKey, c.signature, c.message))),
  );
  assert.ok(lines.some((l) => l.startsWith("1 ")) && lines.some((l) => l.startsWith("0 ")));
});

test("wasm2c: 400 random calls (seeded) and a reset give byte-identical outputs", (t) => {
  if (!needTool(t, "wasm2c", "gcc")) return;
  const seed = process.env.TA_WASM2C_SEED ?? hex(new Uint8Array(randomBytes(8)));
  t.diagnostic(`seed ${seed} (rerun with TA_WASM2C_SEED=${seed})`);
  const r = prng(seed);
  const script: string[] = [];
  for (let i = 0; i < 400; i++) {
    if (i === 200) script.push("reset");
    const kind = r.int(5);
    const msg = r.bytes(r.int(300));
    if (kind === 0) script.push(callLine("sha512", [msg.length], msg));
    else if (kind === 1) {
      const key = r.bytes(r.int(200));
      script.push(callLine("hmac_sha512", [key.length, msg.length], concat(key, msg)));
    } else if (kind === 2) {
      const [ikm, salt, info] = [r.bytes(r.int(64)), r.bytes(r.int(64)), r.bytes(r.int(64))];
      script.push(callLine("hkdf_sha512", [ikm.length, salt.length, info.length, r.int(600)], concat(ikm, salt, info)));
    } else if (kind === 3) script.push(callLine("ed25519_public", [], r.bytes(32)));
    else if (kind === 4) script.push(callLine("ed25519_sign", [msg.length], concat(r.bytes(32), msg)));
    else script.push(callLine("ed25519_verify", [msg.length], concat(r.bytes(96), msg)));
  }
  compare(t, script);
});

test("wasm2c: the driver handles env.abort, traps, poisoning, reset and impossible statuses as the wrapper does", (t) => {
  if (!needTool(t, "wasm2c", "gcc")) return;
  // a hand-made module with the env.abort import (the release TA may or may not import it)
  const dir = join(ROOT, "build", "c");
  mkdirSync(dir, { recursive: true });
  const wasm = join(dir, "misbehaving.wasm");
  const bytes = misbehavingTaBytes();
  writeFileSync(wasm, bytes);
  const b = buildTaC({ wasm, name: "misbehaving" });
  const script = [
    "info",
    callLine("echo", [5], new Uint8Array([1, 2, 3, 4, 5, 6, 7])),
    callLine("echo", [-7]),
    callLine("echo", [7]), // leftover input after the 5-byte output was zeroed
    callLine("boom", []),
    callLine("echo", [1]),
    "reset",
    callLine("echo", [65]),
    callLine("trap", []),
    callLine("echo", [1]),
    "reset",
    callLine("echo", [2], new Uint8Array([9, 9])),
  ];
  const expected = ["1024 64", "5 0102030405", "-7 -", "7 01020304050000", "abort", "poisoned", "ok", "error bad-status", "trap", "poisoned", "ok", "2 0909"];
  assert.deepEqual(runNode(new WebAssembly.Module(bytes), script), expected);
  const c = runC(b, script);
  assert.equal(c.status, 0, c.stderr);
  assert.deepEqual(c.lines, expected);
});
