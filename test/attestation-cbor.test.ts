import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Decoder } from "cbor-x";
import { AttestationError, ERROR_CODES, isErrorCode } from "../attestation/errors.js";
import { fromHex, toHex } from "../attestation/bytes.js";
import { encodeDeterministic } from "../attestation/cbor/deterministic.js";
import { decodeStrict } from "../attestation/cbor/strict.js";
import { CborTag, type CborValue } from "../attestation/cbor/value.js";

const code = (c: keyof typeof ERROR_CODES) => (e: unknown) => e instanceof AttestationError && e.code === c;
const enc = (v: unknown) => toHex(encodeDeterministic(v));
const m = (...e: [unknown, unknown][]) => new Map(e);

// RFC 8949 Appendix A, every example without floating point (not used by this profile).
const APPENDIX_A: [unknown, string][] = [
  [0, "00"], [1, "01"], [10, "0a"], [23, "17"], [24, "1818"], [25, "1819"], [100, "1864"], [1000, "1903e8"],
  [1000000, "1a000f4240"], [1000000000000, "1b000000e8d4a51000"], [18446744073709551615n, "1bffffffffffffffff"],
  [-1, "20"], [-10, "29"], [-100, "3863"], [-1000, "3903e7"],
  [false, "f4"], [true, "f5"], [null, "f6"], [undefined, "f7"],
  [new CborTag(0, "2013-03-21T20:04:00Z"), "c074323031332d30332d32315432303a30343a30305a"],
  [new CborTag(1, 1363896240), "c11a514b67b0"],
  [new CborTag(23, fromHex("01020304")), "d74401020304"],
  [new CborTag(24, fromHex("6449455446")), "d818456449455446"],
  [new CborTag(32, "http://www.example.com"), "d82076687474703a2f2f7777772e6578616d706c652e636f6d"],
  [new Uint8Array(0), "40"], [fromHex("01020304"), "4401020304"],
  ["", "60"], ["a", "6161"], ["IETF", "6449455446"], ['"\\', "62225c"], ["\u00fc", "62c3bc"], ["\u6c34", "63e6b0b4"],
  ["\ud800\udd51", "64f0908591"],
  [[], "80"], [[1, 2, 3], "83010203"], [[1, [2, 3], [4, 5]], "8301820203820405"],
  [Array.from({ length: 25 }, (_, i) => i + 1), "98190102030405060708090a0b0c0d0e0f101112131415161718181819"],
  [m(), "a0"], [m([1, 2], [3, 4]), "a201020304"], [{ a: 1, b: [2, 3] }, "a26161016162820203"],
  [["a", { b: "c" }], "826161a161626163"],
  [{ a: "A", b: "B", c: "C", d: "D", e: "E" }, "a56161614161626142616361436164614461656145"],
];

test("RFC 8949 Appendix A: the deterministic encoder produces the listed bytes", () => {
  for (const [v, hex] of APPENDIX_A) assert.equal(enc(v), hex, `${String(v)}`);
});

test("RFC 8949 Appendix A: the strict decoder reads them back and re-encodes to the same bytes", () => {
  for (const [, hex] of APPENDIX_A) {
    const v = decodeStrict(fromHex(hex));
    assert.equal(enc(v), hex);
  }
  assert.equal(decodeStrict(fromHex("1bffffffffffffffff")), 18446744073709551615n);
  assert.equal(decodeStrict(fromHex("3bffffffffffffffff")), -18446744073709551616n);
  assert.equal(decodeStrict(fromHex("1b001fffffffffffff")), Number.MAX_SAFE_INTEGER);
  assert.equal(decodeStrict(fromHex("3b001ffffffffffffe")), -Number.MAX_SAFE_INTEGER);
  assert.equal(decodeStrict(fromHex("3b001fffffffffffff")), -(2n ** 53n));
});

test("RFC 8949 §4.2.1: map keys sorted by the bytewise order of their encodings", () => {
  // The ordering example of §4.2.1: 10, 100, -1, "z", "aa", [100], [-1], false.
  const keys: unknown[] = [false, [-1], [100], "aa", "z", -1, 100, 10];
  const hex = enc(new Map(keys.map((k, i) => [k, i])));
  assert.equal(hex, "a8" + "0a07" + "186406" + "2005" + "617a04" + "62616103" + "81186402" + "812001" + "f400");
  // Contract C2 claim order, from any insertion order.
  const labels = [-65539, 273, 8, -65537, 265, 10, 257, 256, -65538, 259, 258, 267, 263];
  const sorted = [...decodeStrict(encodeDeterministic(new Map(labels.map((l) => [l, 0])))) as Map<number, unknown>].map(([k]) => k);
  assert.deepEqual(sorted, [8, 10, 256, 257, 258, 259, 263, 265, 267, 273, -65537, -65538, -65539]);
});

test("the encoder refuses what it cannot encode deterministically", () => {
  assert.throws(() => encodeDeterministic(1.5), code("E_CBOR_UNSUPPORTED"));
  assert.throws(() => encodeDeterministic(NaN), code("E_CBOR_UNSUPPORTED"));
  assert.throws(() => encodeDeterministic(2n ** 64n), code("E_CBOR_UNSUPPORTED"));
  // cbor-x writes -2^64 as a tag-3 bignum instead of 3b ff..ff: refused rather than mis-encoded.
  assert.throws(() => encodeDeterministic(-(2n ** 64n)), code("E_CBOR_UNSUPPORTED"));
  assert.throws(() => encodeDeterministic(new Int16Array(2)), code("E_CBOR_UNSUPPORTED"));
  assert.throws(() => encodeDeterministic(() => 1), code("E_CBOR_UNSUPPORTED"));
  assert.throws(() => encodeDeterministic(new Date()), code("E_CBOR_UNSUPPORTED"));
  assert.throws(() => encodeDeterministic(new Map<unknown, number>([[1, 1], [1n, 2]])), code("E_CBOR_DUPLICATE_KEY"));
  assert.throws(() => encodeDeterministic(new CborTag(-1, 0)), code("E_CBOR_UNSUPPORTED"));
  // Integers that cbor-x alone would get wrong: float64 for >= 2^32, 8-byte head for 1n.
  assert.equal(enc(2 ** 32), "1b0000000100000000");
  assert.equal(enc(-(2 ** 32) - 1), "3b0000000100000000");
  assert.equal(enc(1n), "01");
  assert.equal(enc(-0), "00");
});

test("cbor-x heads stay shortest at every length boundary (1- to 4-byte UTF-8, bytes, arrays, maps)", () => {
  const big = { maxBytes: 1 << 22, maxItems: 1 << 20 };
  for (const n of [23, 24, 255, 256, 65535, 65536]) {
    for (const ch of ["a", "\u00fc", "\u6c34", "\u{1F600}"]) {
      for (const pad of ["", "a", "aa", "aaa"]) {
        const s = ch.repeat(Math.ceil(n / Buffer.byteLength(ch))) + pad;
        assert.equal(decodeStrict(encodeDeterministic(s), big), s); // would throw on a non-shortest head
      }
    }
    for (const m of [n - 1, n]) {
      assert.equal((decodeStrict(encodeDeterministic(new Uint8Array(m)), big) as Uint8Array).length, m);
      assert.equal((decodeStrict(encodeDeterministic(new Array<number>(m).fill(0)), big) as unknown[]).length, m);
      // Maps: up to the 1-/2-byte boundary only (sorting 65536 keys is slow); cbor-x writes the
      // 4-byte map head with the same thresholds (encode.js, "constructor === Map").
      if (m > 256) continue;
      assert.equal((decodeStrict(encodeDeterministic(new Map(Array.from({ length: m }, (_, i) => [i, 0]))), big) as Map<number, number>).size, m);
    }
  }
});

const REJECT: [string, keyof typeof ERROR_CODES, string][] = [
  ["", "E_CBOR_MALFORMED", "empty input"],
  ["5f4101ff", "E_CBOR_INDEFINITE_LENGTH", "indefinite byte string"],
  ["7f6161ff", "E_CBOR_INDEFINITE_LENGTH", "indefinite text string"],
  ["9fff", "E_CBOR_INDEFINITE_LENGTH", "indefinite array"],
  ["bfff", "E_CBOR_INDEFINITE_LENGTH", "indefinite map"],
  ["1817", "E_CBOR_NOT_DETERMINISTIC", "23 in a 1-byte argument"],
  ["1900ff", "E_CBOR_NOT_DETERMINISTIC", "255 in a 2-byte argument"],
  ["1a0000ffff", "E_CBOR_NOT_DETERMINISTIC", "65535 in a 4-byte argument"],
  ["1b00000000ffffffff", "E_CBOR_NOT_DETERMINISTIC", "2^32-1 in an 8-byte argument"],
  ["3800", "E_CBOR_NOT_DETERMINISTIC", "-1 in a 1-byte argument"],
  ["580100", "E_CBOR_NOT_DETERMINISTIC", "1-byte length in a 1-byte argument"],
  ["98010a", "E_CBOR_NOT_DETERMINISTIC", "array count in a 1-byte argument"],
  ["d81201", "E_CBOR_NOT_DETERMINISTIC", "tag 18 in a 1-byte argument"],
  ["a202000100", "E_CBOR_NOT_DETERMINISTIC", "keys 2, 1 out of order"],
  ["a220000100", "E_CBOR_NOT_DETERMINISTIC", "keys -1, 1 out of order"],
  ["a201010102", "E_CBOR_DUPLICATE_KEY", "key 1 twice"],
  ["a3010102020103", "E_CBOR_DUPLICATE_KEY", "key 1 twice, not adjacent"],
  ["a2616101616102", "E_CBOR_DUPLICATE_KEY", "key \"a\" twice"],
  ["0100", "E_CBOR_TRAILING_BYTES", "a second item"],
  ["a0ff", "E_CBOR_TRAILING_BYTES", "a trailing break"],
  ["1901", "E_CBOR_MALFORMED", "truncated argument"],
  ["440102", "E_CBOR_MALFORMED", "truncated byte string"],
  ["830102", "E_CBOR_MALFORMED", "truncated array"],
  ["a101", "E_CBOR_MALFORMED", "truncated map"],
  ["d8", "E_CBOR_MALFORMED", "truncated tag"],
  ["c1", "E_CBOR_MALFORMED", "tag without content"],
  ["5affffffff00", "E_CBOR_MALFORMED", "length beyond the input"],
  ["9b000000010000000000", "E_CBOR_MALFORMED", "count beyond the input"],
  ["1c", "E_CBOR_MALFORMED", "reserved ai 28"],
  ["5d", "E_CBOR_MALFORMED", "reserved ai 29"],
  ["fe", "E_CBOR_MALFORMED", "reserved ai 30 in major 7"],
  ["ff", "E_CBOR_MALFORMED", "a lone break"],
  ["1f", "E_CBOR_MALFORMED", "ai 31 on an integer"],
  ["62c328", "E_CBOR_MALFORMED", "invalid UTF-8"],
  ["f810", "E_CBOR_MALFORMED", "two-byte simple value below 32"],
  ["f93c00", "E_CBOR_UNSUPPORTED", "half float"],
  ["fb3ff8000000000000", "E_CBOR_UNSUPPORTED", "double"],
  ["f0", "E_CBOR_UNSUPPORTED", "simple value 16"],
  ["f820", "E_CBOR_UNSUPPORTED", "simple value 32"],
  ["a18001", "E_CBOR_UNSUPPORTED", "array as a map key"],
  ["a14001", "E_CBOR_UNSUPPORTED", "byte string as a map key"],
  ["db000000010000000000", "E_CBOR_UNSUPPORTED", "tag number >= 2^32"],
];

test("the strict decoder rejects each malformation with its code", () => {
  for (const [hex, c, why] of REJECT) assert.throws(() => decodeStrict(fromHex(hex)), code(c), `${why}: ${hex}`);
});

test("key order is only required in deterministic mode; duplicates never", () => {
  assert.deepEqual(decodeStrict(fromHex("a202000100"), { deterministic: false }), new Map([[2, 0], [1, 0]]));
  assert.throws(() => decodeStrict(fromHex("a3010102020103"), { deterministic: false }), code("E_CBOR_DUPLICATE_KEY"));
  assert.throws(() => decodeStrict(fromHex("1817"), { deterministic: false }), code("E_CBOR_NOT_DETERMINISTIC"));
});

test("depth, item and size limits; deep nesting never overflows the stack", () => {
  const nest = (n: number) => new Uint8Array([...new Array<number>(n).fill(0x81), 0x00]);
  assert.doesNotThrow(() => decodeStrict(nest(16)));
  assert.throws(() => decodeStrict(nest(17)), code("E_CBOR_LIMIT"));
  assert.throws(() => decodeStrict(nest(60000)), code("E_CBOR_LIMIT"));
  assert.throws(() => decodeStrict(new Uint8Array(60000).fill(0xc1)), code("E_CBOR_LIMIT")); // tags nest too
  assert.throws(() => decodeStrict(fromHex("83010203"), { maxItems: 3 }), code("E_CBOR_LIMIT"));
  assert.doesNotThrow(() => decodeStrict(fromHex("83010203"), { maxItems: 4 }));
  assert.throws(() => decodeStrict(new Uint8Array(11), { maxBytes: 10 }), code("E_CBOR_LIMIT"));
  assert.throws(() => decodeStrict("00" as unknown as Uint8Array), code("E_ARGUMENT"));
});

// Values of the data model (no floats), with int/text map keys.
const key = fc.oneof(fc.integer({ min: -70000, max: 70000 }), fc.string({ maxLength: 6 }));
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.integer(),
    fc.bigInt({ min: -(2n ** 64n) + 1n, max: 2n ** 64n - 1n }),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: "binary", maxLength: 30 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.constantFrom(true, false, null, undefined),
    fc.array(tie("value"), { maxLength: 30 }),
    fc.array(fc.tuple(key, tie("value")), { maxLength: 30 }).map((e) => new Map(e)),
    fc.tuple(fc.nat({ max: 70000 }), tie("value")).map(([t, v]) => new CborTag(t, v as CborValue)),
  ),
}));

test("property: encoder output passes the strict deterministic decoder and is a fixed point", () => {
  fc.assert(
    fc.property(value, (v) => {
      const b = encodeDeterministic(v);
      const d = decodeStrict(b, { maxItems: 1 << 20, maxDepth: 64 });
      assert.deepEqual(encodeDeterministic(d), b);
    }),
    { numRuns: 1500 },
  );
});

test("property: map insertion order does not change the encoding", () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.tuple(key, fc.integer()), { selector: ([k]) => k, maxLength: 40 }), fc.nat(), (entries, seed) => {
      const shuffled = entries.slice().sort((a, b) => ((String(a[0]).length * 31 + seed) % 7) - ((String(b[0]).length * 17 + seed) % 5));
      assert.deepEqual(encodeDeterministic(new Map(entries)), encodeDeterministic(new Map(shuffled)));
    }),
    { numRuns: 500 },
  );
});

test("oracle: cbor-x decodes our encodings to the same values our strict decoder gives", () => {
  const cx = new Decoder({ mapsAsObjects: false, useRecords: false } as ConstructorParameters<typeof Decoder>[0]);
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: -100000, max: 100000 }), fc.oneof(fc.string(), fc.uint8Array(), fc.integer()))), (e) => {
      const b = encodeDeterministic(new Map(e));
      const ours = decodeStrict(b) as Map<number, unknown>;
      const theirs = cx.decode(b) as Map<number, unknown>;
      assert.deepEqual([...ours.keys()], [...theirs.keys()]);
      for (const [k, v] of ours) assert.deepEqual(v instanceof Uint8Array ? [...v] : v, theirs.get(k) instanceof Uint8Array ? [...(theirs.get(k) as Uint8Array)] : theirs.get(k));
    }),
    { numRuns: 300 },
  );
});

test("property: arbitrary bytes never make the strict decoder throw anything but AttestationError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
      try {
        decodeStrict(b);
      } catch (e) {
        assert.ok(e instanceof AttestationError, String(e));
        assert.ok(isErrorCode(e.code) && e.code.startsWith("E_CBOR_"), e.code);
      }
    }),
    { numRuns: 5000 },
  );
});
