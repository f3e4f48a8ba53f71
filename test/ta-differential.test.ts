// Differential tests: the release TA against node:crypto (OpenSSL) on random inputs (fast-check).
// 10,000 random runs per test run across SHA-512, HMAC, HKDF and Ed25519, plus an exhaustive
// sweep of SHA-512 message lengths across the block boundaries.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { TrustedApp } from "../agent/trusted-app.js";
import { compileTa, hex } from "./support/ta.js";
import { nodeHkdfSha512, nodeHmacSha512, nodePrivateKey, nodePublic, nodePublicOf, nodeSha512, nodeSign, nodeVerify } from "./support/oracle.js";

const ta = TrustedApp.fromModule(compileTa());
const bytes = (maxLength: number, minLength = 0) => fc.uint8Array({ minLength, maxLength });
const RUNS = { sha512: 3000, hmac: 2500, hkdf: 2000, ed25519: 1500, verifyGarbage: 1000 };

test("runs at least 10,000 random cases in total", () => {
  assert.ok(Object.values(RUNS).reduce((a, b) => a + b, 0) >= 10_000);
});

test("SHA-512: every length 0..300 (all padding boundaries) equals node:crypto", () => {
  const buf = new Uint8Array(300).map((_, i) => (i * 151 + 7) & 0xff);
  for (let n = 0; n <= 300; n++) {
    assert.equal(hex(ta.sha512(buf.subarray(0, n))), hex(nodeSha512(buf.subarray(0, n))), `length ${n}`);
  }
});

test(`SHA-512: ${RUNS.sha512} random messages equal node:crypto`, () => {
  fc.assert(
    fc.property(fc.oneof(bytes(300), bytes(4096)), (msg) => {
      assert.equal(hex(ta.sha512(msg)), hex(nodeSha512(msg)));
    }),
    { numRuns: RUNS.sha512 },
  );
});

test(`HMAC-SHA-512: ${RUNS.hmac} random keys/messages equal node:crypto`, () => {
  // keys up to 300 bytes cross the 128-byte block (keys longer than a block are hashed first)
  fc.assert(
    fc.property(bytes(300), bytes(400), (key, msg) => {
      assert.equal(hex(ta.hmacSha512(key, msg)), hex(nodeHmacSha512(key, msg)));
    }),
    { numRuns: RUNS.hmac },
  );
});

test(`HKDF-SHA-512: ${RUNS.hkdf} random (ikm, salt, info, L) equal crypto.hkdfSync`, () => {
  const length = fc.oneof(
    fc.integer({ min: 0, max: 300 }),
    fc.constantFrom(1, 32, 63, 64, 65, 127, 128, 129, 255 * 64 - 1, 255 * 64),
  );
  fc.assert(
    fc.property(bytes(100), bytes(200), bytes(100), length, (ikm, salt, info, n) => {
      // node's hkdfSync refuses L = 0; RFC 5869 allows it (the empty string).
      const expected = n === 0 ? "" : hex(nodeHkdfSha512(ikm, salt, info, n));
      assert.equal(hex(ta.hkdfSha512(ikm, salt, info, n)), expected);
    }),
    { numRuns: RUNS.hkdf },
  );
});

type Part = "R" | "S" | "A" | "M";
const mutation = fc.record({ part: fc.constantFrom<Part>("R", "S", "A", "M"), bit: fc.nat({ max: 511 }) });

test(`Ed25519: ${RUNS.ed25519} random seeds/messages: public key, signature, verify valid and mutated, equal node:crypto`, () => {
  const verdicts = { valid: 0, mutatedAccepted: 0, mutatedRejected: 0 };
  fc.assert(
    fc.property(bytes(32, 32), bytes(300), mutation, (seed, msg, mut) => {
      const key = nodePrivateKey(seed);
      const pub = ta.ed25519Public(seed);
      assert.equal(hex(pub), hex(nodePublicOf(key)));
      const sig = ta.ed25519Sign(seed, msg);
      assert.equal(hex(sig), hex(nodeSign(key, msg)));
      assert.equal(ta.ed25519Verify(pub, sig, msg), true);
      verdicts.valid++;

      const [p, s, m] = [pub.slice(), sig.slice(), msg.length === 0 ? new Uint8Array(1) : msg.slice()];
      const flip = (buf: Uint8Array, bit: number) => {
        const i = (bit >> 3) % buf.length;
        buf[i] ^= 1 << (bit & 7);
      };
      if (mut.part === "R") flip(s.subarray(0, 32), mut.bit);
      else if (mut.part === "S") flip(s.subarray(32), mut.bit);
      else if (mut.part === "A") flip(p, mut.bit);
      else if (msg.length > 0) flip(m, mut.bit);
      const got = ta.ed25519Verify(p, s, m);
      assert.equal(got, nodeVerify(p, s, m), `mutated ${mut.part} bit ${mut.bit}`);
      if (got) verdicts.mutatedAccepted++;
      else verdicts.mutatedRejected++;
    }),
    { numRuns: RUNS.ed25519 },
  );
  // A single-bit change never yields another valid signature (SUF-CMA); both sides agree on that.
  assert.equal(verdicts.mutatedAccepted, 0);
});

test(`Ed25519: ${RUNS.verifyGarbage} random public keys/signatures: TA verdict equals node:crypto, never throws`, () => {
  // Half the keys are real public keys (so the point decodes and the equation is checked).
  const publicKey = fc.oneof(bytes(32, 32), bytes(32, 32).map((seed) => nodePublic(seed)));
  fc.assert(
    fc.property(publicKey, bytes(64, 64), bytes(64), (pub, sig, msg) => {
      assert.equal(ta.ed25519Verify(pub, sig, msg), nodeVerify(pub, sig, msg));
    }),
    { numRuns: RUNS.verifyGarbage },
  );
});
