import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { AttestationError } from "../attestation/errors.js";
import { toHex } from "../attestation/bytes.js";
import {
  formatImeisv, imeiFromImeisv, imeiFromTacSnr, imeiFromUeid, isImeiUeid, isValidImei, luhnCheckDigit, parseImei,
  parseImeisv, parsePei, peiFromImei, peiFromImeisv, ueidFromImei,
} from "../attestation/imei.js";

const code = (c: string) => (e: unknown) => e instanceof AttestationError && e.code === c;
const digits = (n: number) => fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: n, maxLength: n });

/** Textbook Luhn validity over all 15 digits (an oracle independent of luhnCheckDigit). */
function luhnValid(s: string): boolean {
  let sum = 0;
  for (let i = 0; i < s.length; i++) {
    let d = Number(s[s.length - 1 - i]);
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

test("TS 23.003 Annex B worked examples (STANDARDS.md)", () => {
  assert.equal(luhnCheckDigit("49015420323751"), 8);
  assert.equal(luhnCheckDigit("26053179311383"), 7);
  assert.equal(imeiFromTacSnr("49015420323751"), "490154203237518");
  assert.ok(isValidImei("490154203237518"));
  assert.ok(isValidImei("260531793113837"));
  assert.ok(!isValidImei("490154203237517"));
});

test("parseImei splits TAC, SNR and check digit; refuses bad formats and check digits", () => {
  assert.deepEqual(parseImei("490154203237518"), { imei: "490154203237518", tac: "49015420", snr: "323751", checkDigit: 8 });
  for (const bad of ["49015420323751", "4901542032375180", "49015420323751a", " 490154203237518", "", 490154203237518, null]) {
    assert.throws(() => parseImei(bad), code("E_IMEI_FORMAT"), String(bad));
    assert.equal(isValidImei(bad), false);
  }
  assert.throws(() => parseImei("490154203237519"), code("E_IMEI_CHECK_DIGIT"));
  assert.throws(() => luhnCheckDigit("1234"), code("E_IMEI_FORMAT"));
});

test("RFC 9711 UEID of type IMEI: the example h'030409000105040200030203070501'", () => {
  const u = ueidFromImei("490154203237518");
  assert.equal(toHex(u), "030409000105040200030203070501");
  assert.equal(u.length, 15);
  assert.equal(imeiFromUeid(u), "490154203237518");
  assert.throws(() => ueidFromImei("490154203237510"), code("E_IMEI_CHECK_DIGIT"));
});

test("imeiFromUeid refuses anything but 0x03 + 14 digit values", () => {
  const good = ueidFromImei("490154203237518");
  const cases = [good.subarray(1), Uint8Array.of(...good, 0), Uint8Array.of(0x01, ...good.subarray(1))];
  const tenth = good.slice();
  tenth[5] = 10;
  cases.push(tenth);
  for (const c of cases) {
    assert.equal(isImeiUeid(c), false);
    assert.throws(() => imeiFromUeid(c), code("E_UEID_FORMAT"));
  }
});

test("property: the check digit agrees with a textbook Luhn oracle", () => {
  fc.assert(
    fc.property(digits(14), (s) => {
      const imei = imeiFromTacSnr(s);
      assert.ok(luhnValid(imei));
      assert.ok(isValidImei(imei));
      for (let cd = 0; cd < 10; cd++) if (String(cd) !== imei[14]) assert.equal(isValidImei(s + cd), false);
    }),
    { numRuns: 2000 },
  );
});

test("property: every single-digit substitution is detected", () => {
  fc.assert(
    fc.property(digits(14), fc.nat(14), fc.integer({ min: 1, max: 9 }), (s, pos, delta) => {
      const imei = imeiFromTacSnr(s);
      const d = (Number(imei[pos]) + delta) % 10;
      const changed = imei.slice(0, pos) + d + imei.slice(pos + 1);
      assert.equal(isValidImei(changed), false);
    }),
    { numRuns: 2000 },
  );
});

test("property: adjacent transpositions are detected except 0<->9 (a known Luhn blind spot)", () => {
  fc.assert(
    fc.property(digits(14), fc.nat(13), (s, pos) => {
      const imei = imeiFromTacSnr(s);
      const a = imei[pos]!;
      const b = imei[pos + 1]!;
      fc.pre(a !== b);
      const swapped = imei.slice(0, pos) + b + a + imei.slice(pos + 2);
      const blind = (a === "0" && b === "9") || (a === "9" && b === "0");
      assert.equal(isValidImei(swapped), blind);
    }),
    { numRuns: 2000 },
  );
});

test("property: UEID round trip IMEI -> UEID -> IMEI", () => {
  fc.assert(
    fc.property(digits(14), (s) => {
      const imei = imeiFromTacSnr(s);
      const u = ueidFromImei(imei);
      assert.equal(u[0], 3);
      assert.deepEqual([...u.subarray(1)], [...s].map(Number));
      assert.equal(imeiFromUeid(u), imei);
    }),
    { numRuns: 1000 },
  );
});

test("IMEISV: parse, format, back to the IMEI with a recomputed check digit", () => {
  assert.deepEqual(parseImeisv("4901542032375107"), { imeisv: "4901542032375107", tac: "49015420", snr: "323751", svn: "07" });
  assert.equal(formatImeisv("490154203237518", "07"), "4901542032375107");
  assert.equal(imeiFromImeisv("4901542032375107"), "490154203237518");
  assert.throws(() => parseImeisv("490154203237518"), code("E_IMEI_FORMAT"));
  assert.throws(() => formatImeisv("490154203237518", "7"), code("E_IMEI_FORMAT"));
});

test("PEI strings (TS 29.511 / TS 29.571)", () => {
  assert.equal(peiFromImei("490154203237518"), "imei-490154203237518");
  assert.equal(peiFromImeisv("4901542032375107"), "imeisv-4901542032375107");
  assert.deepEqual(parsePei("imei-490154203237518"), { kind: "imei", digits: "490154203237518" });
  assert.deepEqual(parsePei("imeisv-4901542032375107"), { kind: "imeisv", digits: "4901542032375107" });
  // Only the digit count: a spare 0 check digit is still a well-formed PEI.
  assert.deepEqual(parsePei("imei-490154203237510"), { kind: "imei", digits: "490154203237510" });
  for (const bad of ["imei-49015420323751", "imeisv-490154203237518", "IMEI-490154203237518", "mac-00-11-22-33-44-55", "", 5]) {
    assert.throws(() => parsePei(bad), code("E_IMEI_FORMAT"), String(bad));
  }
  assert.throws(() => peiFromImei("490154203237519"), code("E_IMEI_CHECK_DIGIT"));
});
