// The CBOR writer against RFC 8949 Appendix A (the kinds of items the TA emits).
import {
  cborArray, cborBytes, cborHead, cborHeadSize, cborInt, cborMap, cborTag, cborText, cborUint,
  MT_NINT,
} from "../cbor/encode";
import { ascii, hexAt, put } from "./support/bytes";

const BUF: usize = memory.data(512, 16);

function hex(p: usize, end: usize): string {
  return hexAt(p, <i32>(end - p));
}

function uintHex(v: u64): string {
  return hex(BUF, cborUint(BUF, v));
}

function intHex(v: i64): string {
  return hex(BUF, cborInt(BUF, v));
}

describe("cbor unsigned integers (RFC 8949 Appendix A)", () => {
  it("encodes the boundaries of every head size in shortest form", () => {
    expect(uintHex(0)).toBe("00");
    expect(uintHex(1)).toBe("01");
    expect(uintHex(10)).toBe("0a");
    expect(uintHex(23)).toBe("17");
    expect(uintHex(24)).toBe("1818");
    expect(uintHex(25)).toBe("1819");
    expect(uintHex(100)).toBe("1864");
    expect(uintHex(255)).toBe("18ff");
    expect(uintHex(256)).toBe("190100");
    expect(uintHex(1000)).toBe("1903e8");
    expect(uintHex(65535)).toBe("19ffff");
    expect(uintHex(65536)).toBe("1a00010000");
    expect(uintHex(1000000)).toBe("1a000f4240");
    expect(uintHex(4294967295)).toBe("1affffffff");
    expect(uintHex(4294967296)).toBe("1b0000000100000000");
    expect(uintHex(1000000000000)).toBe("1b000000e8d4a51000");
    expect(uintHex(18446744073709551615)).toBe("1bffffffffffffffff");
  });
  it("reports the head size it writes", () => {
    const values: u64[] = [0, 23, 24, 255, 256, 65535, 65536, 4294967295, 4294967296, u64.MAX_VALUE];
    for (let i = 0; i < values.length; i++) {
      expect(<i32>(cborUint(BUF, values[i]) - BUF)).toBe(cborHeadSize(values[i]));
    }
  });
});

describe("cbor negative integers (RFC 8949 Appendix A)", () => {
  it("encodes -1 - n under major type 1", () => {
    expect(intHex(-1)).toBe("20");
    expect(intHex(-10)).toBe("29");
    expect(intHex(-24)).toBe("37");
    expect(intHex(-25)).toBe("3818");
    expect(intHex(-100)).toBe("3863");
    expect(intHex(-1000)).toBe("3903e7");
    expect(intHex(-8)).toBe("27");
    expect(intHex(-65537)).toBe("3a00010000");
    expect(intHex(-65539)).toBe("3a00010002");
    expect(intHex(i64.MIN_VALUE)).toBe("3b7fffffffffffffff");
    expect(hex(BUF, cborHead(BUF, MT_NINT, u64.MAX_VALUE))).toBe("3bffffffffffffffff");
  });
  it("encodes non-negative values through cborInt as major type 0", () => {
    expect(intHex(0)).toBe("00");
    expect(intHex(1000)).toBe("1903e8");
  });
});

describe("cbor byte and text strings (RFC 8949 Appendix A)", () => {
  it("encodes h'' and h'01020304'", () => {
    const src = BUF + 256;
    expect(hex(BUF, cborBytes(BUF, src, 0))).toBe("40");
    put(src, "01020304");
    expect(hex(BUF, cborBytes(BUF, src, 4))).toBe("4401020304");
  });
  it("uses a one-byte length from 24 bytes on and a two-byte length from 256 on", () => {
    const src = BUF + 256;
    memory.fill(src, 0xab, 24);
    expect(hex(BUF, cborBytes(BUF, src, 23)).substr(0, 2)).toBe("57");
    expect(hex(BUF, cborBytes(BUF, src, 24)).substr(0, 6)).toBe("5818ab");
    expect(hex(BUF, cborHead(BUF, 2, 300))).toBe("59012c");
  });
  it("encodes \"\", \"a\" and \"IETF\"", () => {
    const src = BUF + 256;
    expect(hex(BUF, cborText(BUF, src, 0))).toBe("60");
    expect(hex(BUF, cborText(BUF, src, ascii(src, "a")))).toBe("6161");
    expect(hex(BUF, cborText(BUF, src, ascii(src, "IETF")))).toBe("6449455446");
  });
});

describe("cbor arrays, maps and tags (RFC 8949 Appendix A)", () => {
  it("encodes [], [1, 2, 3] and [1, [2, 3], [4, 5]]", () => {
    expect(hex(BUF, cborArray(BUF, 0))).toBe("80");
    let p = cborArray(BUF, 3);
    p = cborUint(p, 1);
    p = cborUint(p, 2);
    p = cborUint(p, 3);
    expect(hex(BUF, p)).toBe("83010203");
    p = cborArray(BUF, 3);
    p = cborUint(p, 1);
    p = cborArray(p, 2);
    p = cborUint(p, 2);
    p = cborUint(p, 3);
    p = cborArray(p, 2);
    p = cborUint(p, 4);
    p = cborUint(p, 5);
    expect(hex(BUF, p)).toBe("8301820203820405");
  });
  it("encodes a 25-item array with a one-byte length", () => {
    let p = cborArray(BUF, 25);
    for (let i = 1; i <= 25; i++) p = cborUint(p, <u64>i);
    expect(hex(BUF, p)).toBe("98190102030405060708090a0b0c0d0e0f101112131415161718181819");
  });
  it("encodes {} and {1: 2, 3: 4}", () => {
    expect(hex(BUF, cborMap(BUF, 0))).toBe("a0");
    let p = cborMap(BUF, 2);
    p = cborUint(p, 1);
    p = cborUint(p, 2);
    p = cborUint(p, 3);
    p = cborUint(p, 4);
    expect(hex(BUF, p)).toBe("a201020304");
  });
  it("encodes 1(1363896240), 23(h'01020304') and 24(h'6449455446')", () => {
    let p = cborTag(BUF, 1);
    p = cborUint(p, 1363896240);
    expect(hex(BUF, p)).toBe("c11a514b67b0");
    const src = BUF + 256;
    p = cborTag(BUF, 23);
    p = cborBytes(p, src, put(src, "01020304"));
    expect(hex(BUF, p)).toBe("d74401020304");
    p = cborTag(BUF, 24);
    p = cborBytes(p, src, put(src, "6449455446"));
    expect(hex(BUF, p)).toBe("d818456449455446");
  });
  it("encodes 32(\"http://www.example.com\")", () => {
    const src = BUF + 256;
    let p = cborTag(BUF, 32);
    p = cborText(p, src, ascii(src, "http://www.example.com"));
    expect(hex(BUF, p)).toBe("d82076687474703a2f2f7777772e6578616d706c652e636f6d");
  });
  it("encodes the CWT and COSE_Sign1 tags the token starts with (61, 18)", () => {
    let p = cborTag(BUF, 61);
    p = cborTag(p, 18);
    p = cborArray(p, 4);
    expect(hex(BUF, p)).toBe("d83dd284");
  });
});
