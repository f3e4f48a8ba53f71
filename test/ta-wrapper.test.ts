// The host wrapper (agent/trusted-app.ts): argument validation at the boundary, one isolated
// instance per object, the generic `call`, and how abort, traps and impossible statuses surface.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { TrustedApp } from "../agent/trusted-app.js";
import { TaError } from "../agent/ta-errors.js";
import { compileTa, hex, TA_WASM } from "./support/ta.js";
import { misbehavingTaBytes } from "./support/tiny-wasm.js";
import { readFileSync } from "node:fs";

const module = compileTa();
const ta = TrustedApp.fromModule(module);
const seed = new Uint8Array(32).fill(7);
const sha512hex = (b: Uint8Array) => createHash("sha512").update(b).digest("hex");

/** Asserts `fn` throws `type` with a message naming `arg`. */
function throwsNaming(fn: () => unknown, type: typeof TypeError | typeof RangeError, arg: string) {
  assert.throws(fn, (e: unknown) => e instanceof type && e.message.includes(arg), `${type.name} naming ${arg}`);
}

test("load(), fromBytes() and fromModule() give working instances", async () => {
  const a = await TrustedApp.load();
  const b = await TrustedApp.fromBytes(new Uint8Array(readFileSync(TA_WASM)));
  const c = TrustedApp.fromModule(await TrustedApp.compile());
  for (const app of [a, b, c]) {
    assert.ok(app.ioCap >= 16384);
    assert.equal(hex(app.sha512(new TextEncoder().encode("abc"))), sha512hex(Buffer.from("abc")));
  }
});

test("every method validates its arguments: TypeError for the type, RangeError for the size, naming the argument", () => {
  const big = new Uint8Array(ta.ioCap + 1);
  const notBytes = "abc" as unknown as Uint8Array;
  throwsNaming(() => ta.sha512(notBytes), TypeError, "msg");
  throwsNaming(() => ta.sha512(big), RangeError, "msg");
  throwsNaming(() => ta.hmacSha512(notBytes, new Uint8Array(1)), TypeError, "key");
  throwsNaming(() => ta.hmacSha512(new Uint8Array(1), [1, 2] as unknown as Uint8Array), TypeError, "msg");
  throwsNaming(() => ta.hmacSha512(new Uint8Array(ta.ioCap), new Uint8Array(1)), RangeError, "key and msg");
  throwsNaming(() => ta.hkdfSha512(notBytes, new Uint8Array(0), new Uint8Array(0), 32), TypeError, "ikm");
  throwsNaming(() => ta.hkdfSha512(new Uint8Array(0), null as unknown as Uint8Array, new Uint8Array(0), 32), TypeError, "salt");
  throwsNaming(() => ta.hkdfSha512(new Uint8Array(0), new Uint8Array(0), {} as Uint8Array, 32), TypeError, "info");
  throwsNaming(() => ta.hkdfSha512(new Uint8Array(0), new Uint8Array(0), new Uint8Array(0), 255 * 64 + 1), RangeError, "length");
  throwsNaming(() => ta.hkdfSha512(new Uint8Array(0), new Uint8Array(0), new Uint8Array(0), -1), RangeError, "length");
  throwsNaming(() => ta.hkdfSha512(new Uint8Array(0), new Uint8Array(0), new Uint8Array(0), 1.5), TypeError, "length");
  throwsNaming(() => ta.hkdfSha512(big, new Uint8Array(0), new Uint8Array(0), 1), RangeError, "ikm, salt and info");
  throwsNaming(() => ta.ed25519Public(new Uint8Array(31)), RangeError, "seed");
  throwsNaming(() => ta.ed25519Public(notBytes), TypeError, "seed");
  throwsNaming(() => ta.ed25519Sign(new Uint8Array(33), new Uint8Array(0)), RangeError, "seed");
  throwsNaming(() => ta.ed25519Sign(seed, notBytes), TypeError, "msg");
  throwsNaming(() => ta.ed25519Sign(seed, new Uint8Array(ta.ioCap - 31)), RangeError, "seed and msg");
  throwsNaming(() => ta.ed25519Verify(notBytes, new Uint8Array(64), new Uint8Array(0)), TypeError, "publicKey");
  throwsNaming(() => ta.ed25519Verify(new Uint8Array(32), notBytes, new Uint8Array(0)), TypeError, "signature");
  throwsNaming(() => ta.ed25519Verify(new Uint8Array(32), new Uint8Array(64), new Uint8Array(ta.ioCap - 95)), RangeError, "msg");
});

test("verification of a key or signature of the wrong length answers false, not an exception", () => {
  const pub = ta.ed25519Public(seed);
  const msg = new Uint8Array([1, 2, 3]);
  const sig = ta.ed25519Sign(seed, msg);
  assert.equal(ta.ed25519Verify(pub, sig, msg), true);
  assert.equal(ta.ed25519Verify(pub.subarray(0, 31), sig, msg), false);
  assert.equal(ta.ed25519Verify(pub, sig.subarray(0, 63), msg), false);
  assert.equal(ta.ed25519Verify(new Uint8Array([...pub, 0]), sig, msg), false);
  assert.equal(ta.ed25519Verify(pub, new Uint8Array([...sig, 0]), msg), false);
});

test("call(): unknown export, wrong arity, non-i32 arguments and oversized input are refused", () => {
  throwsNaming(() => ta.call("no_such_export"), RangeError, "no_such_export");
  throwsNaming(() => ta.call("memory"), RangeError, "memory");
  throwsNaming(() => ta.call("sha512", []), RangeError, "args");
  throwsNaming(() => ta.call("sha512", [1, 2]), RangeError, "args");
  throwsNaming(() => ta.call("sha512", [1.5]), TypeError, "args[0]");
  throwsNaming(() => ta.call("sha512", [2 ** 31]), RangeError, "args[0]");
  throwsNaming(() => ta.call("sha512", [0], new Uint8Array(ta.ioCap + 1)), RangeError, "input");
  throwsNaming(() => ta.call("sha512", [0], "x" as unknown as Uint8Array), TypeError, "input");
});

test("call() returns negative statuses; invoke() throws them as TaError", () => {
  const r = ta.call("sha512", [-1]);
  assert.equal(r.status, -1);
  assert.equal(r.output.length, 0);
  assert.throws(() => ta.invoke("sha512", [-1], new Uint8Array(0)), (e: unknown) => e instanceof TaError && e.code === -1 && e.name === "ERR_LENGTH");
  const ok = ta.call("sha512", [3], new TextEncoder().encode("abc"));
  assert.equal(ok.status, 64);
  assert.equal(hex(ok.output), sha512hex(Buffer.from("abc")));
});

test("instances are isolated: one instance's I/O buffer is not another's", () => {
  const a = TrustedApp.fromModule(module);
  const b = TrustedApp.fromModule(module);
  const digest = a.sha512(new TextEncoder().encode("abc")); // a's io[0..64) now holds the digest
  // hash the 64 bytes already in each buffer, writing nothing
  assert.equal(hex(a.call("sha512", [64]).output), sha512hex(digest));
  assert.equal(hex(b.call("sha512", [64]).output), sha512hex(new Uint8Array(64)), "b's buffer is untouched");
});

test("leftover input bytes (possible secrets) are zeroed after every call", () => {
  const app = TrustedApp.fromModule(module);
  const ikm = new Uint8Array(100).fill(0xab);
  const okm = app.hkdfSha512(ikm, new Uint8Array(0), new Uint8Array(0), 10);
  // the buffer now holds okm (10 bytes) then zeros where the rest of ikm was
  const expected = new Uint8Array(100);
  expected.set(okm);
  assert.equal(hex(app.call("sha512", [100]).output), sha512hex(expected));
});

test("env.abort becomes a TaError (ERR_ABORT) with the TA's message; the instance then refuses calls", async () => {
  const app = await TrustedApp.fromBytes(misbehavingTaBytes());
  assert.equal(app.ioPtr, 1024);
  assert.equal(app.ioCap, 64);
  assert.throws(() => app.call("boom"), (e: unknown) => {
    assert.ok(e instanceof TaError);
    assert.equal(e.name, "ERR_ABORT");
    assert.equal(e.export, "boom");
    assert.match(e.message, /bad at \?:7:3|bad at .*:7:3/);
    return true;
  });
  assert.throws(() => app.call("echo", [1]), (e: unknown) => e instanceof TaError && e.name === "ERR_POISONED");
});

test("a trap becomes a TaError (ERR_TRAP); an impossible status becomes ERR_BAD_STATUS", async () => {
  const module2 = await TrustedApp.compile(misbehavingTaBytes());
  const app = TrustedApp.fromModule(module2);
  assert.equal(app.call("echo", [5], new Uint8Array([1, 2, 3, 4, 5, 6])).output.length, 5);
  assert.equal(app.call("echo", [-7]).status, -7);
  assert.throws(() => app.call("echo", [65]), (e: unknown) => e instanceof TaError && e.name === "ERR_BAD_STATUS");
  assert.throws(() => app.invoke("echo", [3], new Uint8Array(0), 4), (e: unknown) => e instanceof TaError && e.name === "ERR_BAD_STATUS");
  assert.throws(() => app.call("trap"), (e: unknown) => e instanceof TaError && e.name === "ERR_TRAP" && e.export === "trap");
  assert.throws(() => app.call("echo", [1]), (e: unknown) => e instanceof TaError && e.name === "ERR_POISONED");
  // another instance of the same module is unaffected
  assert.equal(TrustedApp.fromModule(module2).call("echo", [1]).status, 1);
});

test("a module without the ABI's memory, io_ptr and io_cap is refused", async () => {
  const empty = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  await assert.rejects(TrustedApp.fromBytes(empty), TypeError);
  assert.throws(() => TrustedApp.fromModule({} as WebAssembly.Module), TypeError);
});
