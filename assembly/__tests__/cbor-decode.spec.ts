// The strict CBOR reader (assembly/cbor/decode.ts): RFC 8949 Appendix A items it accepts, and
// every malformation it must refuse - non-shortest heads, indefinite lengths, reserved additional
// information, wrong major types, truncation at every length, invalid UTF-8 - without reading a
// byte past the end it was given.
import {
  cborPeekMajor, cborReadBstrOf, cborReadDone, cborReadFailed, cborReadHead, cborReadInit, cborReadLen,
  cborReadString, cborReadUint, cborSkipTag, utf8Valid,
} from "../cbor/decode";

const BUF: usize = memory.data(512, 16);

/** Writes bytes given as hex at BUF and returns their length. */
function put(h: string): i32 {
  const n = h.length >> 1;
  for (let i = 0; i < n; i++) store<u8>(BUF + <usize>i, <u8>I32.parseInt(h.substr(i * 2, 2), 16));
  return n;
}

/** Reads `h` as one unsigned integer; returns the value, or -1 when the reader refused it. */
function uint(h: string): i64 {
  cborReadInit(BUF, put(h));
  const v = cborReadUint();
  return cborReadDone() ? <i64>v : -1;
}

/** Reads `h` as one head of major type `major`; true when accepted with nothing left over. */
function head(major: u32, h: string): bool {
  cborReadInit(BUF, put(h));
  cborReadHead(major);
  return cborReadDone();
}

/** Reads `h` as one string of major type `major`; its length, or -1 when refused. */
function str(major: u32, h: string): i32 {
  cborReadInit(BUF, put(h));
  const p = cborReadString(major);
  if (!cborReadDone()) return -1;
  expect(p).toBe(BUF + <usize>(h.length / 2 - cborReadLen()), "content follows the head");
  return cborReadLen();
}

function utf8(h: string): bool {
  return utf8Valid(BUF, put(h));
}

describe("cbor reader: unsigned integers (RFC 8949 Appendix A)", () => {
  it("reads every head size at its boundaries", () => {
    expect(uint("00")).toBe(0);
    expect(uint("17")).toBe(23);
    expect(uint("1818")).toBe(24);
    expect(uint("18ff")).toBe(255);
    expect(uint("190100")).toBe(256);
    expect(uint("19ffff")).toBe(65535);
    expect(uint("1a00010000")).toBe(65536);
    expect(uint("1affffffff")).toBe(4294967295);
    expect(uint("1b0000000100000000")).toBe(4294967296);
  });
  it("refuses every non-shortest form (RFC 8949 §4.2.1)", () => {
    expect(uint("1800")).toBe(-1);
    expect(uint("1817")).toBe(-1);
    expect(uint("190000")).toBe(-1);
    expect(uint("1900ff")).toBe(-1);
    expect(uint("1a00000000")).toBe(-1);
    expect(uint("1a0000ffff")).toBe(-1);
    expect(uint("1b0000000000000000")).toBe(-1);
    expect(uint("1b00000000ffffffff")).toBe(-1);
  });
  it("refuses reserved (28..30) and indefinite (31) additional information", () => {
    expect(uint("1c")).toBe(-1);
    expect(uint("1d")).toBe(-1);
    expect(uint("1e")).toBe(-1);
    expect(uint("1f")).toBe(-1);
    // ... also with plenty of bytes after them (a reader that took 28..30 as 16/32/64-byte
    // arguments would accept these)
    const tail = "01".repeat(70);
    expect(head(0, "1c" + tail.substr(0, 32))).toBe(false);
    expect(head(0, "1d" + tail.substr(0, 64))).toBe(false);
    expect(head(0, "1e" + tail.substr(0, 128))).toBe(false);
    expect(head(2, "5f")).toBe(false); // indefinite byte string
    expect(head(3, "7f")).toBe(false); // indefinite text string
    expect(head(4, "9f")).toBe(false); // indefinite array
    expect(head(5, "bf")).toBe(false); // indefinite map
  });
  it("refuses another major type", () => {
    expect(uint("20")).toBe(-1); // -1
    expect(uint("40")).toBe(-1); // h''
    expect(uint("f4")).toBe(-1); // false
    expect(uint("f97c00")).toBe(-1); // a float
    expect(head(5, "80")).toBe(false);
    expect(head(4, "a0")).toBe(false);
  });
  it("refuses a head cut at every length", () => {
    const full = "1b0000000100000000";
    for (let n = 0; n < 9; n++) {
      cborReadInit(BUF, put(full.substr(0, n * 2)));
      expect(cborReadUint()).toBe(0);
      expect(cborReadFailed()).toBe(true, "cut at " + n.toString());
    }
  });
  it("reports trailing bytes through cborReadDone", () => {
    cborReadInit(BUF, put("0101"));
    expect(cborReadUint()).toBe(1);
    expect(cborReadFailed()).toBe(false);
    expect(cborReadDone()).toBe(false);
    expect(cborReadUint()).toBe(1);
    expect(cborReadDone()).toBe(true);
  });
});

describe("cbor reader: heads of arrays, maps and tags", () => {
  it("reads counts and tag numbers", () => {
    cborReadInit(BUF, put("d284a10102"));
    expect(cborPeekMajor()).toBe(6);
    expect(cborReadHead(6)).toBe(18);
    expect(cborReadHead(4)).toBe(4);
    expect(cborReadHead(5)).toBe(1);
    expect(cborReadUint()).toBe(1);
    expect(cborReadUint()).toBe(2);
    expect(cborReadDone()).toBe(true);
    expect(cborPeekMajor()).toBe(-1);
  });
  it("skips tag 18 only when present, refuses another tag", () => {
    cborReadInit(BUF, put("d280"));
    cborSkipTag(18);
    expect(cborReadHead(4)).toBe(0);
    expect(cborReadDone()).toBe(true);
    cborReadInit(BUF, put("80"));
    cborSkipTag(18);
    expect(cborReadHead(4)).toBe(0);
    expect(cborReadDone()).toBe(true);
    cborReadInit(BUF, put("d83d80")); // tag 61
    cborSkipTag(18);
    expect(cborReadFailed()).toBe(true);
    cborReadInit(BUF, put("d81280")); // tag 18 in a non-shortest head
    cborSkipTag(18);
    expect(cborReadFailed()).toBe(true);
  });
});

describe("cbor reader: strings", () => {
  it("reads byte and text strings and their lengths", () => {
    expect(str(2, "40")).toBe(0);
    expect(str(2, "4401020304")).toBe(4);
    expect(str(3, "6161")).toBe(1);
    expect(str(3, "62c3bc")).toBe(2); // "ü"
    expect(str(2, "5818" + "00".repeat(24))).toBe(24);
    expect(str(3, "7818" + "61".repeat(24))).toBe(24);
  });
  it("refuses a string whose content runs past the end, at every cut", () => {
    const full = "5818" + "ab".repeat(24);
    for (let n = 0; n < 26; n++) {
      cborReadInit(BUF, put(full.substr(0, n * 2)));
      cborReadString(2);
      expect(cborReadFailed()).toBe(true, "cut at " + n.toString());
      expect(cborReadLen()).toBe(0);
    }
    // a huge declared length (2^64 - 1) is refused, not wrapped
    cborReadInit(BUF, put("5bffffffffffffffff00"));
    cborReadString(2);
    expect(cborReadFailed()).toBe(true);
  });
  it("refuses a non-shortest length and the other string type", () => {
    expect(str(2, "5801ab")).toBe(-1);
    expect(str(3, "780161")).toBe(-1);
    expect(str(2, "6161")).toBe(-1);
    expect(str(3, "4161")).toBe(-1);
  });
  it("refuses text that is not UTF-8, accepts the same bytes as a byte string", () => {
    expect(str(3, "61ff")).toBe(-1);
    expect(str(2, "41ff")).toBe(1);
    expect(str(3, "62c0af")).toBe(-1); // overlong "/"
  });
  it("cborReadBstrOf takes exactly the given length", () => {
    cborReadInit(BUF, put("43010203"));
    expect(cborReadBstrOf(3)).toBe(BUF + 1);
    expect(cborReadDone()).toBe(true);
    cborReadInit(BUF, put("43010203"));
    cborReadBstrOf(4);
    expect(cborReadFailed()).toBe(true);
    cborReadInit(BUF, put("6161")); // text, not bytes
    cborReadBstrOf(1);
    expect(cborReadFailed()).toBe(true);
  });
  it("stays failed: later reads return 0 and do not move", () => {
    cborReadInit(BUF, put("1c0101"));
    cborReadUint();
    expect(cborReadFailed()).toBe(true);
    expect(cborReadUint()).toBe(0);
    expect(cborPeekMajor()).toBe(-1);
    expect(cborReadDone()).toBe(false);
    cborReadInit(BUF, -1);
    expect(cborReadFailed()).toBe(true);
  });
});

describe("UTF-8 validation (RFC 3629 §4)", () => {
  it("accepts ASCII and 2-, 3- and 4-byte sequences at their limits", () => {
    expect(utf8("")).toBe(true);
    expect(utf8("00417f")).toBe(true);
    expect(utf8("c280")).toBe(true); // U+0080
    expect(utf8("dfbf")).toBe(true); // U+07FF
    expect(utf8("e0a080")).toBe(true); // U+0800
    expect(utf8("ed9fbf")).toBe(true); // U+D7FF
    expect(utf8("ee8080")).toBe(true); // U+E000
    expect(utf8("efbfbf")).toBe(true); // U+FFFF
    expect(utf8("f0908080")).toBe(true); // U+10000
    expect(utf8("f48fbfbf")).toBe(true); // U+10FFFF
    expect(utf8("e282ac")).toBe(true); // €
  });
  it("refuses overlongs, surrogates, out-of-range and stray bytes", () => {
    expect(utf8("80")).toBe(false); // lone continuation
    expect(utf8("bf")).toBe(false);
    expect(utf8("c080")).toBe(false); // overlong NUL
    expect(utf8("c1bf")).toBe(false);
    expect(utf8("e09fbf")).toBe(false); // overlong U+07FF
    expect(utf8("eda080")).toBe(false); // U+D800
    expect(utf8("edbfbf")).toBe(false); // U+DFFF
    expect(utf8("f08fbfbf")).toBe(false); // overlong U+FFFF
    expect(utf8("f4908080")).toBe(false); // U+110000
    expect(utf8("f5808080")).toBe(false);
    expect(utf8("ff")).toBe(false);
    expect(utf8("c2c2")).toBe(false); // continuation missing
    expect(utf8("e282")).toBe(false); // truncated
    expect(utf8("f09080")).toBe(false);
    expect(utf8("41e2")).toBe(false);
  });
});
