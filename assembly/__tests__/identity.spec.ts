// IMEI (3GPP TS 23.003 Annex B), UEID and sealed-blob layout checks inside the TA.
import { ERR_IMEI_CHECK_DIGIT, ERR_IMEI_FORMAT } from "../errors";
import { IMEI_LEN, imeiCheck, luhnCheckDigit, UEID_LEN, writeImeiUeid } from "../identity/imei";
import { keysInit, MAC_LEN } from "../identity/keys";
import {
  CONTACT_MAX, HWMODEL_MAX, MSG_MAX, REGKEYS_MAX, SB_BODY_LEN, SB_FORMAT, SB_MAGIC, SB_OFF_BOOTCOUNT,
  SB_OFF_CONTACT, SB_OFF_CONTACT_LEN, SB_OFF_FLAGS, SB_OFF_FORMAT, SB_OFF_HWMODEL, SB_OFF_HWMODEL_LEN,
  SB_OFF_IMEI1, SB_OFF_IMEI2, SB_OFF_LAST_SEQ, SB_OFF_LOCK, SB_OFF_MAGIC, SB_OFF_MSG, SB_OFF_MSG_LEN,
  SB_OFF_OEMID, SB_OFF_OEMID_LEN, SB_OFF_REGKEY_COUNT, SB_OFF_REGKEYS, SB_OFF_VERSION, seal,
  SEALED_LEN, unsealOk,
} from "../identity/sealed";
import { ascii, hexAt } from "./support/bytes";

const BUF: usize = memory.data(1024, 16);
const BODY: usize = BUF + 512;

function check(s: string): i32 {
  return imeiCheck(BUF, ascii(BUF, s));
}

describe("Luhn check digit (3GPP TS 23.003 Annex B)", () => {
  it("gives the worked examples of STANDARDS.md", () => {
    ascii(BUF, "49015420323751");
    expect(luhnCheckDigit(BUF)).toBe(8);
    ascii(BUF, "26053179311383");
    expect(luhnCheckDigit(BUF)).toBe(7);
    ascii(BUF, "35693803564380");
    expect(luhnCheckDigit(BUF)).toBe(9);
    ascii(BUF, "00000000000000");
    expect(luhnCheckDigit(BUF)).toBe(0);
  });
  it("doubles the 2nd, 4th, ... digit from the left (D1, D3, ... from the right of the 14)", () => {
    // only the 14th digit set: doubled (9 -> 18 -> 1 + 8 = 9), CD = (10 - 9) % 10 = 1
    ascii(BUF, "00000000000009");
    expect(luhnCheckDigit(BUF)).toBe(1);
    // a 1 as the 13th digit is not doubled: CD = 9; as the 14th it is: 2, CD = 8
    ascii(BUF, "00000000000010");
    expect(luhnCheckDigit(BUF)).toBe(9);
    ascii(BUF, "00000000000001");
    expect(luhnCheckDigit(BUF)).toBe(8);
  });
});

describe("imeiCheck", () => {
  it("accepts valid IMEIs", () => {
    expect(check("490154203237518")).toBe(0);
    expect(check("260531793113837")).toBe(0);
    expect(check("356938035643809")).toBe(0);
  });
  it("refuses a wrong check digit with ERR_IMEI_CHECK_DIGIT", () => {
    expect(check("490154203237517")).toBe(ERR_IMEI_CHECK_DIGIT);
    expect(check("490154203237519")).toBe(ERR_IMEI_CHECK_DIGIT);
    expect(check("260531793113830")).toBe(ERR_IMEI_CHECK_DIGIT);
  });
  it("refuses other lengths and non-digits with ERR_IMEI_FORMAT", () => {
    expect(check("49015420323751")).toBe(ERR_IMEI_FORMAT);
    expect(check("4901542032375180")).toBe(ERR_IMEI_FORMAT);
    expect(check("")).toBe(ERR_IMEI_FORMAT);
    expect(check("49015420323751a")).toBe(ERR_IMEI_FORMAT);
    expect(check("/90154203237518")).toBe(ERR_IMEI_FORMAT);
    expect(check(":90154203237518")).toBe(ERR_IMEI_FORMAT);
    expect(imeiCheck(BUF, -1)).toBe(ERR_IMEI_FORMAT);
  });
});

describe("IMEI UEID (RFC 9711 §4.2.1, type 0x03)", () => {
  it("writes h'03' and the 14 digit values as a 15-byte CBOR byte string", () => {
    ascii(BUF, "490154203237518");
    const end = writeImeiUeid(BUF + 64, BUF);
    expect(<i32>(end - (BUF + 64))).toBe(1 + UEID_LEN);
    expect(hexAt(BUF + 64, 16)).toBe("4f030409000105040200030203070501");
  });
});

describe("sealed blob layout (format 1)", () => {
  it("has contiguous fields in the documented order and size", () => {
    expect(SB_OFF_MAGIC).toBe(0);
    expect(SB_OFF_FORMAT).toBe(4);
    expect(SB_OFF_FLAGS).toBe(5);
    expect(SB_OFF_OEMID_LEN).toBe(6);
    expect(SB_OFF_HWMODEL_LEN).toBe(7);
    expect(SB_OFF_VERSION).toBe(8);
    expect(SB_OFF_BOOTCOUNT).toBe(SB_OFF_VERSION + 4);
    expect(SB_OFF_LAST_SEQ).toBe(SB_OFF_BOOTCOUNT + 4);
    expect(SB_OFF_LOCK).toBe(SB_OFF_LAST_SEQ + 4);
    expect(SB_OFF_REGKEY_COUNT).toBe(SB_OFF_LOCK + 1);
    expect(SB_OFF_MSG_LEN).toBe(SB_OFF_REGKEY_COUNT + 1);
    expect(SB_OFF_CONTACT_LEN).toBe(SB_OFF_MSG_LEN + 1);
    expect(SB_OFF_IMEI1).toBe(SB_OFF_CONTACT_LEN + 1);
    expect(SB_OFF_IMEI2).toBe(SB_OFF_IMEI1 + IMEI_LEN);
    expect(SB_OFF_OEMID).toBe(SB_OFF_IMEI2 + IMEI_LEN);
    expect(SB_OFF_HWMODEL).toBe(SB_OFF_OEMID + 16);
    expect(SB_OFF_REGKEYS).toBe(SB_OFF_HWMODEL + HWMODEL_MAX);
    expect(SB_OFF_MSG).toBe(SB_OFF_REGKEYS + 32 * REGKEYS_MAX);
    expect(SB_OFF_CONTACT).toBe(SB_OFF_MSG + MSG_MAX);
    expect(SB_BODY_LEN).toBe(SB_OFF_CONTACT + CONTACT_MAX);
    expect(SEALED_LEN).toBe(SB_BODY_LEN + MAC_LEN);
    expect(SEALED_LEN).toBe(422);
  });
});

/** A well-formed body: magic, format, one IMEI, 3-byte oemid, 1-byte model, one key, version 1. */
function wellFormedBody(): void {
  memory.fill(BODY, 0, <usize>SB_BODY_LEN);
  store<u32>(BODY + <usize>SB_OFF_MAGIC, SB_MAGIC);
  store<u8>(BODY + <usize>SB_OFF_FORMAT, SB_FORMAT);
  store<u8>(BODY + <usize>SB_OFF_OEMID_LEN, 3);
  store<u8>(BODY + <usize>SB_OFF_HWMODEL_LEN, 1);
  store<u32>(BODY + <usize>SB_OFF_VERSION, 1);
  store<u8>(BODY + <usize>SB_OFF_REGKEY_COUNT, 1);
  ascii(BODY + <usize>SB_OFF_IMEI1, "490154203237518");
}

/** Sets byte `off` of a well-formed body to `value`, seals it (a valid MAC) and asks whether it unseals. */
function unsealsAfter(off: i32, value: u8): bool {
  wellFormedBody();
  store<u8>(BODY + <usize>off, value);
  seal(BODY, BUF);
  return unsealOk(BUF, SEALED_LEN);
}

describe("seal / unsealOk", () => {
  it("accepts what it sealed, and nothing else", () => {
    for (let i = 0; i < 32; i++) store<u8>(BUF + <usize>i, <u8>i);
    keysInit(BUF);
    wellFormedBody();
    expect(seal(BODY, BUF)).toBe(SEALED_LEN);
    expect(unsealOk(BUF, SEALED_LEN)).toBe(true);
    expect(unsealOk(BUF, SEALED_LEN - 1)).toBe(false);
    expect(unsealOk(BUF, SEALED_LEN + 1)).toBe(false);
    expect(unsealOk(BUF, 0)).toBe(false);
    for (let i = 0; i < SEALED_LEN; i += 13) {
      store<u8>(BUF + <usize>i, load<u8>(BUF + <usize>i) ^ 0x10);
      expect(unsealOk(BUF, SEALED_LEN)).toBe(false);
      store<u8>(BUF + <usize>i, load<u8>(BUF + <usize>i) ^ 0x10);
    }
    expect(unsealOk(BUF, SEALED_LEN)).toBe(true);
  });
  it("refuses an authentic body that is not well formed (defence in depth)", () => {
    expect(unsealsAfter(SB_OFF_FLAGS, 0)).toBe(true);
    expect(unsealsAfter(SB_OFF_MAGIC, 0x42)).toBe(false);
    expect(unsealsAfter(SB_OFF_FORMAT, 2)).toBe(false);
    expect(unsealsAfter(SB_OFF_FLAGS, 2)).toBe(false);
    expect(unsealsAfter(SB_OFF_FLAGS, 1)).toBe(false); // IMEI 2 flagged but absent
    expect(unsealsAfter(SB_OFF_OEMID_LEN, 4)).toBe(false);
    expect(unsealsAfter(SB_OFF_OEMID_LEN, 16)).toBe(true);
    expect(unsealsAfter(SB_OFF_HWMODEL_LEN, 0)).toBe(false);
    expect(unsealsAfter(SB_OFF_HWMODEL_LEN, 33)).toBe(false);
    expect(unsealsAfter(SB_OFF_HWMODEL_LEN, 32)).toBe(true);
    expect(unsealsAfter(SB_OFF_VERSION, 0)).toBe(false);
    expect(unsealsAfter(SB_OFF_REGKEY_COUNT, 0)).toBe(false);
    expect(unsealsAfter(SB_OFF_REGKEY_COUNT, 5)).toBe(false);
    expect(unsealsAfter(SB_OFF_REGKEY_COUNT, 4)).toBe(true);
    expect(unsealsAfter(SB_OFF_LOCK, 3)).toBe(false);
    expect(unsealsAfter(SB_OFF_LOCK, 2)).toBe(true);
    expect(unsealsAfter(SB_OFF_MSG_LEN, 129)).toBe(false);
    expect(unsealsAfter(SB_OFF_MSG_LEN, 128)).toBe(true);
    expect(unsealsAfter(SB_OFF_CONTACT_LEN, 33)).toBe(false);
    expect(unsealsAfter(SB_OFF_CONTACT_LEN, 32)).toBe(true);
    expect(unsealsAfter(SB_OFF_IMEI1 + 14, 0x39)).toBe(false); // check digit 9 instead of 8
  });
});
