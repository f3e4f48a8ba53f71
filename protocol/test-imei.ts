// Test IMEIs. GSMA TS.06 (IMEI Allocation and Approval Process, "Test IMEI") sets aside the
// Reporting Body Identifier 00 - the first two digits of the TAC - for test equipment: no
// production handset carries a TAC 00xxxxxx. The conformance suite makes its synthetic handsets
// in that range, and a registry marks a ledger entry whose IMEIs are all test IMEIs as a test
// entry ("test": true, docs/LEDGER.md §2), which peers do not apply (docs/CONFORMANCE.md).
import { randomInt } from "node:crypto";

/** The Reporting Body Identifier of test IMEIs (TAC digits 1-2). */
export const TEST_RBI = "00";

/** True when the IMEI (or TAC) lies in the test range 00xxxxxx. */
export function isTestImei(imeiOrTac: string): boolean {
  return /^[0-9]{8,15}$/.test(imeiOrTac) && imeiOrTac.startsWith(TEST_RBI);
}

/** A random test TAC: 00 followed by 6 random digits. */
export function randomTestTac(): string {
  return TEST_RBI + String(randomInt(0, 1_000_000)).padStart(6, "0");
}
