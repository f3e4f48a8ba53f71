// ABI v1 conformance of the release TA, driven through the raw WebAssembly exports (no wrapper):
// the import/export surface, the I/O buffer, an error code (never a trap) for every malformed
// length on every export, and that no secret is left in linear memory after signing, key
// derivation and HKDF (contract C1: "every function wipes its own secret scratch").
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import fc from "fast-check";
import { TA_ERRORS } from "../agent/ta-errors.js";
import { ABI_FUNCTIONS, ABI_OTHER, ALLOWED_IMPORTS, CRYPTO_FUNCTIONS, malformedLengthCases } from "./support/abi.js";
import { compileTa, concat, hex } from "./support/ta.js";
import { L, leToInt, intToLe } from "./support/ed25519-edge.js";

const module = compileTa();
const I32_MAX = 0x7fff_ffff;
const I32_MIN = -0x8000_0000;
type Fn = (...args: number[]) => number;

/** A bare instance: exports as functions, the memory, and io helpers. */
function instantiate() {
  const instance = new WebAssembly.Instance(module, {
    env: {
      abort() {
        throw new Error("env.abort called");
      },
    },
  });
  const ex = instance.exports as Record<string, unknown>;
  const fn = (name: string) => ex[name] as Fn;
  const memory = ex.memory as WebAssembly.Memory;
  const io = fn("io_ptr")();
  const cap = fn("io_cap")();
  const mem = () => new Uint8Array(memory.buffer);
  const write = (bytes: Uint8Array) => mem().set(bytes, io);
  const read = (n: number) => mem().slice(io, io + n);
  return { fn, mem, io, cap, write, read };
}

test("imports: at most env.abort", () => {
  for (const imp of WebAssembly.Module.imports(module)) {
    assert.ok(
      ALLOWED_IMPORTS.some((a) => a.module === imp.module && a.name === imp.name && a.kind === imp.kind),
      `unexpected import ${imp.module}.${imp.name} (${imp.kind})`,
    );
  }
});

test("exports: exactly the documented set, with the documented arities", () => {
  const exports = WebAssembly.Module.exports(module);
  const documented = [...Object.keys(ABI_FUNCTIONS), ...Object.keys(ABI_OTHER)].sort();
  assert.deepEqual(exports.map((e) => e.name).sort(), documented);
  for (const e of exports) assert.equal(e.kind, ABI_OTHER[e.name] ?? "function", e.name);
  const t = instantiate();
  for (const [name, arity] of Object.entries(ABI_FUNCTIONS)) assert.equal(t.fn(name).length, arity, `${name} arity`);
});

test("io_cap >= 16384 and the I/O buffer lies inside memory", () => {
  const t = instantiate();
  assert.ok(t.cap >= 16384, `io_cap ${t.cap}`);
  assert.ok(t.io > 0 && t.io + t.cap <= t.mem().length, `io [${t.io}, +${t.cap}) in ${t.mem().length}`);
});

test("every malformed length on every crypto export returns its error code, never traps", () => {
  // (the stateful identity exports' refusals are tested with their states in the identity tests)
  const t = instantiate();
  const cases = malformedLengthCases(t.cap);
  const exportsWithLengths = Object.entries(CRYPTO_FUNCTIONS).filter(([, n]) => n > 0).map(([name]) => name);
  assert.deepEqual([...new Set(cases.map(([name]) => name))].sort(), exportsWithLengths.sort(), "every crypto export with a length is covered");
  for (const [name, args, code] of cases) {
    let status: number;
    try {
      status = t.fn(name)(...args);
    } catch (e) {
      assert.fail(`${name}(${args.join(", ")}) trapped: ${(e as Error).message}`);
    }
    assert.equal(status, code, `${name}(${args.join(", ")})`);
  }
  // and the instance is still sound afterwards
  t.write(new TextEncoder().encode("abc"));
  assert.equal(t.fn("sha512")(3), 64);
  assert.equal(hex(t.read(64)), createHash("sha512").update("abc").digest("hex"));
});

test("the largest inputs that fit are accepted", () => {
  const t = instantiate();
  assert.equal(t.fn("sha512")(t.cap), 64);
  assert.equal(t.fn("hmac_sha512")(t.cap, 0), 64);
  assert.equal(t.fn("hmac_sha512")(0, t.cap), 64);
  assert.equal(t.fn("hkdf_sha512")(t.cap - 2, 1, 1, 255 * 64), 255 * 64);
  assert.equal(t.fn("hkdf_sha512")(0, 0, t.cap - 255 * 64, 255 * 64), 255 * 64);
  assert.equal(t.fn("hkdf_sha512")(0, 0, 0, 0), 0);
  assert.equal(t.fn("ed25519_sign")(t.cap - 32), 64);
  assert.ok([0, 1].includes(t.fn("ed25519_verify")(t.cap - 96)));
  assert.equal(t.fn("ed25519_public")(), 32);
});

test("fast-check: 3,000 random i32 argument vectors on every export (any state): a table code or a valid length, never a trap", () => {
  const t = instantiate();
  const codes = new Set<number>(Object.values(TA_ERRORS).map((e) => e.code));
  const names = Object.entries(ABI_FUNCTIONS).filter(([n]) => n !== "io_ptr" && n !== "io_cap");
  const i32 = fc.oneof(
    fc.integer({ min: I32_MIN, max: I32_MAX }),
    fc.integer({ min: -2, max: 300 }),
    fc.constantFrom(I32_MIN, I32_MAX, -1, 0, 16384, 16383, 16385, 255 * 64, 255 * 64 + 1),
  );
  fc.assert(
    fc.property(fc.constantFrom(...names), fc.array(i32, { minLength: 4, maxLength: 4 }), ([name, arity], args) => {
      let status: number;
      try {
        status = t.fn(name)(...args.slice(0, arity));
      } catch (e) {
        throw new Error(`${name}(${args.slice(0, arity).join(", ")}) trapped: ${(e as Error).message}`);
      }
      assert.ok(codes.has(status) || (status >= 0 && status <= t.cap), `${name} returned ${status}`);
    }),
    { numRuns: 3000 },
  );
});

// ---- secrets wiped ----------------------------------------------------------------------

/** Every 16-byte window of each named secret that occurs anywhere in memory. */
function findSecrets(memory: Uint8Array, secrets: Record<string, Uint8Array>): string[] {
  const mem = Buffer.from(memory.buffer, memory.byteOffset, memory.byteLength);
  const found: string[] = [];
  for (const [name, secret] of Object.entries(secrets)) {
    for (let i = 0; i + 16 <= secret.length; i++) {
      const at = mem.indexOf(secret.subarray(i, i + 16));
      if (at >= 0) {
        found.push(`${name}[${i}..${i + 16}) at memory offset ${at}`);
        break;
      }
    }
  }
  return found;
}

const sha512 = (...parts: Uint8Array[]) => new Uint8Array(createHash("sha512").update(concat(...parts)).digest());

/** RFC 8032 §5.1.5-6: the secrets a signer computes from a seed and a message. */
function signingSecrets(seed: Uint8Array, msg?: Uint8Array): Record<string, Uint8Array> {
  const h = sha512(seed);
  const a = h.slice(0, 32);
  a[0] &= 248;
  a[31] &= 127;
  a[31] |= 64;
  const s: Record<string, Uint8Array> = { seed, "SHA-512(seed)[0..32]": h.slice(0, 32), "clamped scalar a": a, "prefix": h.slice(32) };
  s["a mod L"] = intToLe(leToInt(a) % L);
  if (msg) {
    const r64 = sha512(h.slice(32), msg);
    s["r = SHA-512(prefix||M)"] = r64;
    s["r mod L"] = intToLe(leToInt(r64) % L);
  }
  return s;
}

test("secrets wiped: after ed25519_public no copy of the seed, SHA-512(seed) or the scalar remains in memory", () => {
  for (let i = 0; i < 4; i++) {
    const t = instantiate();
    const seed = new Uint8Array(randomBytes(32));
    t.write(seed);
    assert.equal(t.fn("ed25519_public")(), 32);
    assert.deepEqual(findSecrets(t.mem(), signingSecrets(seed)), []);
  }
});

test("secrets wiped: after ed25519_sign no seed, expanded key halves or nonce r remains in memory", () => {
  for (const msgLen of [0, 3, 200, 1000]) {
    const t = instantiate();
    const seed = new Uint8Array(randomBytes(32));
    const msg = new Uint8Array(randomBytes(msgLen));
    t.write(concat(seed, msg));
    assert.equal(t.fn("ed25519_sign")(msg.length), 64);
    assert.deepEqual(findSecrets(t.mem(), signingSecrets(seed, msg)), [], `message of ${msgLen} bytes`);
    // sign twice on the same instance (scratch reused): still nothing
    t.write(concat(seed, msg));
    assert.equal(t.fn("ed25519_sign")(msg.length), 64);
    assert.deepEqual(findSecrets(t.mem(), signingSecrets(seed, msg)), []);
  }
});

test("secrets wiped: after hkdf_sha512 and hmac_sha512 no PRK, unused OKM block tail or padded key remains", () => {
  const t = instantiate();
  const ikm = new Uint8Array(randomBytes(32));
  const salt = new Uint8Array(randomBytes(16));
  const info = new TextEncoder().encode("antitheft/v1/device-attestation-key");
  const outLen = 40; // covers the 32-byte ikm in the I/O buffer; T(1)[40..64) is never output
  t.write(concat(ikm, salt, info));
  assert.equal(t.fn("hkdf_sha512")(ikm.length, salt.length, info.length, outLen), outLen);
  // RFC 5869 §2.2-2.3: PRK = HMAC(salt, IKM); T(1) = HMAC(PRK, info || 0x01)
  const prk = new Uint8Array(createHmac("sha512", salt).update(ikm).digest());
  const t1 = new Uint8Array(createHmac("sha512", prk).update(concat(info, new Uint8Array([1]))).digest());
  // the key block XOR ipad/opad (RFC 2104 §2), over the secret-dependent first 64 bytes only
  const pad = (key: Uint8Array, b: number) => key.map((x) => x ^ b);
  assert.deepEqual(
    findSecrets(t.mem(), { ikm, PRK: prk, "T(1)[40..64)": t1.slice(40), "PRK^ipad": pad(prk, 0x36), "PRK^opad": pad(prk, 0x5c) }),
    [],
  );

  const key = new Uint8Array(randomBytes(64));
  const msg = new Uint8Array(randomBytes(100)); // the 64-byte tag overwrites the 64-byte key
  t.write(concat(key, msg));
  assert.equal(t.fn("hmac_sha512")(key.length, msg.length), 64);
  assert.deepEqual(findSecrets(t.mem(), { key, "key^ipad": pad(key, 0x36), "key^opad": pad(key, 0x5c) }), []);
});
