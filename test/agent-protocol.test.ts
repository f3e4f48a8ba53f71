import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ClaimCodeError, claimNonce, formatClaimCode, newClaimCode, normalizeClaimCode } from "../protocol/claim-code.js";
import fc from "fast-check";
import { encodeDeterministic } from "../attestation/cbor/deterministic.js";
import { generateEd25519 } from "../attestation/cose/key.js";
import { createSign1, nodeSigner } from "../attestation/cose/sign1.js";
import {
  MAX_PAYLOAD_BYTES, ProtocolError, RESULT_CODE, commandNonce, decodeAttestation, decodeChallenge,
  decodeHeartbeat, decodeHello, decodeReceipt, decodeResult, deviceClientId, deviceTopic, encodeAttestation,
  encodeChallenge, encodeHeartbeat, encodeHello, encodeReceipt, encodeResult, parseDeviceTopic, peekCommand, resultCode,
} from "../protocol/messages.js";

const did = "0123456789abcdef0123456789abcdef";
const isProtocolError = (e: unknown) => e instanceof ProtocolError && e.code === "E_MESSAGE";

test("topics and client ids (PROTOCOL §1, §3)", () => {
  assert.equal(deviceTopic(did, "command"), `at/v1/d/${did}/command`);
  assert.deepEqual(parseDeviceTopic(`at/v1/d/${did}/desired`), { did, kind: "desired" });
  assert.equal(parseDeviceTopic(`at/v1/d/${did}/nope`), undefined);
  assert.equal(parseDeviceTopic(`at/v2/d/${did}/command`), undefined);
  assert.equal(parseDeviceTopic(`at/v1/d/${did.toUpperCase()}/command`), undefined);
  assert.equal(parseDeviceTopic(`at/v1/d/${did}/command/x`), undefined);
  assert.equal(deviceClientId(did), `at-d-${did}`);
  assert.throws(() => deviceTopic("../#", "command"), RangeError);
});

test("every message round-trips and is deterministic CBOR with text keys and v = 1", () => {
  const token = Uint8Array.from([0xd8, 0x3d, 1, 2, 3]);
  const hello = { endorsement: Uint8Array.of(9, 9), bootcount: 7, lock: 2, seq: 4, agent: "x/1" };
  assert.deepEqual(decodeHello(encodeHello(hello)), hello);
  const ch = { nonce: new Uint8Array(32).fill(5) };
  assert.deepEqual(decodeChallenge(encodeChallenge(ch)), ch);
  assert.deepEqual(decodeAttestation(encodeAttestation({ token })), { token });
  const hb = { bootcount: 1, lock: 0, seq: 0, tampered: true };
  assert.deepEqual(decodeHeartbeat(encodeHeartbeat(hb)), hb);
  assert.deepEqual(decodeReceipt(encodeReceipt({ seq: 12 })), { seq: 12 });
  const r = { seq: 3, status: "REJECTED" as const, code: 6, error: -31 };
  assert.deepEqual(decodeResult(encodeResult(r)), r);
  const r2 = { seq: 3, status: "SUCCEEDED" as const, code: 2, token };
  assert.deepEqual(decodeResult(encodeResult(r2)), r2);
  // the receipt is exactly {"v": 1, "seq": 12, "status": "IN_PROGRESS"} in deterministic order
  assert.deepEqual(encodeReceipt({ seq: 12 }), encodeDeterministic(new Map<string, unknown>([["v", 1], ["seq", 12], ["status", "IN_PROGRESS"]])));
});

test("LwM2M Object 8 result codes (§4.6)", () => {
  assert.equal(resultCode(1, true), RESULT_CODE.FULL_LOCK_OK);
  assert.equal(resultCode(2, true), RESULT_CODE.UNLOCK_OK);
  assert.equal(resultCode(1, false), RESULT_CODE.FULL_LOCK_FAILED);
  assert.equal(resultCode(2, false), RESULT_CODE.UNLOCK_FAILED);
  assert.equal(resultCode(3, true), 0);
  assert.equal(resultCode(99, false), 0);
});

test("decoders refuse wrong shapes with E_MESSAGE", () => {
  const enc = (o: Record<string, unknown>) => encodeDeterministic(o);
  const bad: [string, (b: Uint8Array) => unknown, Uint8Array][] = [
    ["challenge v2", decodeChallenge, enc({ v: 2, nonce: new Uint8Array(32) })],
    ["challenge short nonce", decodeChallenge, enc({ v: 1, nonce: new Uint8Array(31) })],
    ["challenge text nonce", decodeChallenge, enc({ v: 1, nonce: "x".repeat(32) })],
    ["challenge array", decodeChallenge, encodeDeterministic([1, 2])],
    ["hello lock 3", decodeHello, enc({ v: 1, endorsement: Uint8Array.of(1), bootcount: 0, lock: 3, seq: 0 })],
    ["hello negative seq", decodeHello, enc({ v: 1, endorsement: Uint8Array.of(1), bootcount: 0, lock: 0, seq: -1 })],
    ["heartbeat tampered 1", decodeHeartbeat, enc({ v: 1, bootcount: 0, lock: 0, seq: 0, tampered: 1 })],
    ["receipt status", decodeReceipt, enc({ v: 1, seq: 1, status: "DONE" })],
    ["result code 9", decodeResult, enc({ v: 1, seq: 1, status: "FAILED", code: 9 })],
    ["oversized", decodeChallenge, new Uint8Array(MAX_PAYLOAD_BYTES + 1)],
    ["truncated", decodeChallenge, encodeChallenge({ nonce: new Uint8Array(32) }).subarray(0, 20)],
    ["empty", decodeChallenge, new Uint8Array(0)],
  ];
  for (const [what, decode, bytes] of bad) assert.throws(() => decode(bytes), isProtocolError, what);
});

test("decoders never throw anything but E_MESSAGE on random or mutated bytes (property)", () => {
  const valid = [encodeChallenge({ nonce: new Uint8Array(32).fill(1) }), encodeHello({ endorsement: Uint8Array.of(1), bootcount: 0, lock: 0, seq: 0 })];
  const decoders = [decodeChallenge, decodeHello, decodeHeartbeat, decodeResult, decodeReceipt, decodeAttestation, peekCommand];
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([v, i, x]) => {
          const b = new Uint8Array(v);
          b[i % b.length] ^= x;
          return b;
        }),
      ),
      (bytes) => {
        for (const d of decoders) {
          try {
            d(bytes);
          } catch (e) {
            assert.ok(isProtocolError(e), `${d.name} threw ${String(e)}`);
          }
        }
      },
    ),
    { numRuns: 2000 },
  );
});

test("peekCommand reads a §5 command without trusting it; claim and command nonces match SHA-512", () => {
  const signer = nodeSigner(generateEd25519().privateKey);
  const payload = encodeDeterministic(
    new Map<number, unknown>([
      [1, new Uint8Array(15).fill(3)],
      [2, new Uint8Array(16).fill(4)],
      [3, 42],
      [4, 1],
      [5, "Stolen"],
      [6, "+1"],
    ]),
  );
  const cmd = createSign1(payload, signer, { cwtTag: false });
  const p = peekCommand(cmd);
  assert.equal(p.seq, 42);
  assert.equal(p.action, 1);
  assert.equal(p.message, "Stolen");
  assert.equal(p.contact, "+1");
  assert.deepEqual(p.kid, new Uint8Array(16).fill(4));
  assert.throws(() => peekCommand(createSign1(encodeDeterministic(new Map([[3, 0]])), signer)), isProtocolError);
  assert.throws(() => peekCommand(encodeDeterministic({ v: 1 })), isProtocolError);

  assert.deepEqual(commandNonce(cmd), new Uint8Array(createHash("sha512").update(cmd).digest().subarray(0, 32)));
  // Claim codes (§6.2): typed forms normalise to one code, whose nonce is SHA-512(label || code).
  const expected = createHash("sha512").update("antitheft/v1/claim" + "0123456789").digest().subarray(0, 32);
  assert.deepEqual(claimNonce("01234-56789"), new Uint8Array(expected));
  assert.deepEqual(claimNonce("oi234 5678g".replace("g", "9")), new Uint8Array(expected), "O = 0, I = 1, spaces and case do not matter");
  assert.equal(normalizeClaimCode("abcde-fghjk"), "ABCDEFGHJK");
  assert.equal(formatClaimCode("ABCDEFGHJK"), "ABCDE-FGHJK");
  for (const bad of ["", "ABCDE-FGHJ", "ABCDE-FGHJKM", "ABCDE-FGHJU", "ABCDE_FGHJK"]) assert.throws(() => normalizeClaimCode(bad), ClaimCodeError, bad);
  const codes = new Set(Array.from({ length: 200 }, () => newClaimCode()));
  assert.equal(codes.size, 200, "codes are random");
  for (const c of codes) assert.equal(normalizeClaimCode(c), c);
});
