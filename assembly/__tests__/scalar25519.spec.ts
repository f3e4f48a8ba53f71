// Arithmetic modulo L (assembly/crypto/scalar25519.ts): reduction of 64-byte values,
// multiply-add and the canonicity test. Expected values computed independently with Python.
import { scIsCanonical, scMulAdd, scReduce } from "../crypto/scalar25519";
import { hexAt, put } from "./support/bytes";

const IN: usize = memory.data(64, 16);
const X: usize = memory.data(32, 16);
const Y: usize = memory.data(32, 16);
const Z: usize = memory.data(32, 16);
const OUT: usize = memory.data(32, 16);

/** scReduce of a 128-hex-digit little-endian value. */
function reduce(h: string): string {
  put(IN, h);
  scReduce(OUT, IN);
  return hexAt(OUT, 32);
}

const ZERO32 = "0000000000000000000000000000000000000000000000000000000000000000";
const ZERO64 = ZERO32 + ZERO32;
const L = "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";
const L_MINUS_1 = "ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";

describe("scReduce (64 bytes mod L)", () => {
  it("maps 0 to 0, L to 0 and L - 1 to itself", () => {
    expect(reduce(ZERO64)).toBe(ZERO32);
    expect(reduce(L + ZERO32)).toBe(ZERO32);
    expect(reduce(L_MINUS_1 + ZERO32)).toBe(L_MINUS_1);
  });
  it("reduces 2^512 - 1", () => {
    let ff = "";
    for (let i = 0; i < 64; i++) ff += "ff";
    expect(reduce(ff)).toBe("000f9c44e31106a447938568a71b0ed065bef517d273ecce3d9a307c1b419903");
  });
  it("reduces (2^259 + 12345) * L + 77 to 77", () => {
    expect(reduce("12a078ca4c02ad0e3d1c8ab620617f74ee0300000000000000000000000000906ba2aee7d21893c0b2e6bc17f5cef7a600000000000000000000000000000080"))
      .toBe("4d00000000000000000000000000000000000000000000000000000000000000");
  });
  it("reduces SHA-512(\"abc\") as Ed25519 does with its hashes", () => {
    expect(reduce("ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"))
      .toBe("d15dbef29abf1ff29f9cf91c4b75ee0bb1012cb031d9605d684e841df034de0b");
  });
  it("may write its output over its input", () => {
    put(IN, L_MINUS_1 + ZERO32);
    scReduce(IN, IN);
    expect(hexAt(IN, 32)).toBe(L_MINUS_1);
  });
});

describe("scMulAdd ((a * b + c) mod L)", () => {
  it("computes a known value", () => {
    put(X, "a4abd4448c49562d828115d13a1fccea927f52b4d5459297f8b43e42da89238b");
    put(Y, "121b4774a759924a2929c4a412fb6e31b9aaa746466840efcc4a76d69a94149e");
    put(Z, "5ae625665f3e0bd0a065ed07a41989e4025b79d13930a2a8c57d6b4325226707");
    scMulAdd(OUT, X, Y, Z);
    expect(hexAt(OUT, 32)).toBe("e9b68e9b29a3bbfc295f105fdf6ac46cef958320dfb8fa9f2d1b399cad866808");
  });
  it("handles the largest inputs, 2^256 - 1 each", () => {
    let ff = "";
    for (let i = 0; i < 32; i++) ff += "ff";
    put(X, ff);
    put(Y, ff);
    put(Z, ff);
    scMulAdd(OUT, X, Y, Z);
    expect(hexAt(OUT, 32)).toBe("d14df91389432c25ad60ff9791b9fd1d67bef517d273ecce3d9a307c1b419903");
  });
  it("(L - 1)^2 + (L - 1) = 0 mod L", () => {
    put(X, L_MINUS_1);
    scMulAdd(OUT, X, X, X);
    expect(hexAt(OUT, 32)).toBe(ZERO32);
  });
});

describe("scIsCanonical (s < L)", () => {
  it("accepts 0 and L - 1, rejects L, L + 1, L + 2^128 and 2^256 - 1", () => {
    put(X, ZERO32);
    expect(scIsCanonical(X)).toBe(true);
    put(X, L_MINUS_1);
    expect(scIsCanonical(X)).toBe(true);
    put(X, L);
    expect(scIsCanonical(X)).toBe(false);
    put(X, "eed3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
    expect(scIsCanonical(X)).toBe(false);
    put(X, "edd3f55c1a631258d69cf7a2def9de1401000000000000000000000000000010");
    expect(scIsCanonical(X)).toBe(false);
    let ff = "";
    for (let i = 0; i < 32; i++) ff += "ff";
    put(X, ff);
    expect(scIsCanonical(X)).toBe(false);
  });
});
