// GF(2^255 - 19) arithmetic (assembly/crypto/field25519.ts): known products, inverses and
// roots (expected values computed independently with Python integers), carries at limb
// boundaries and the canonical encoding of values at and above p.
import {
  FE_D, FE_D2, FE_SQRTM1, fe1, feAdd, feCarry, feFromBytes, feInvert, feIsNegative,
  feIsNonZero, feMul, feNeg, fePow22523, feSq, feSub, feToBytes
} from "../crypto/field25519";
import { hexAt, put } from "./support/bytes";

const A: usize = memory.data(40, 16);
const B: usize = memory.data(40, 16);
const C: usize = memory.data(40, 16);
const BYTES: usize = memory.data(32, 16);
const OUT: usize = memory.data(32, 16);

/** Loads a 64-hex-digit little-endian encoding into the field element at fe. */
function fe(dst: usize, h: string): void {
  put(BYTES, h);
  feFromBytes(dst, BYTES);
}

/** The canonical encoding of the field element at f. */
function enc(f: usize): string {
  feToBytes(OUT, f);
  return hexAt(OUT, 32);
}

const P = "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f";
const P_MINUS_1 = "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f";
const ZERO = "0000000000000000000000000000000000000000000000000000000000000000";
const ONE = "0100000000000000000000000000000000000000000000000000000000000000";
const VA = "f89b0061a38abf3dbc674f6a433c37d9c5dc5808717aa7afe1c0cbb823f5062f";
const VB = "43fb301de8aad3c39a97fd1d1a58c8e2b24940dd5850a8e0cedb39a24b7a9915";

describe("field25519 encoding", () => {
  it("round-trips canonical values", () => {
    fe(A, VA);
    expect(enc(A)).toBe(VA);
    fe(A, P_MINUS_1);
    expect(enc(A)).toBe(P_MINUS_1);
  });
  it("reduces p to 0, p + 1 to 1 and 2^255 - 1 to 18", () => {
    fe(A, P);
    expect(enc(A)).toBe(ZERO);
    fe(A, "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    expect(enc(A)).toBe(ONE);
    fe(A, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    expect(enc(A)).toBe("1200000000000000000000000000000000000000000000000000000000000000");
  });
  it("ignores bit 255 (the sign of x in a point encoding)", () => {
    fe(A, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff");
    expect(enc(A)).toBe("1200000000000000000000000000000000000000000000000000000000000000");
    fe(A, "0100000000000000000000000000000000000000000000000000000000000080");
    expect(enc(A)).toBe(ONE);
  });
  it("carries limbs at their bounds: all limbs full, all limbs -1", () => {
    for (let i = 0; i < 10; i++) store<i32>(A + <usize>(i * 4), (i & 1) ? (1 << 25) - 1 : (1 << 26) - 1);
    expect(enc(A)).toBe("1200000000000000000000000000000000000000000000000000000000000000");
    for (let i = 0; i < 10; i++) store<i32>(A + <usize>(i * 4), -1);
    expect(enc(A)).toBe("ecfffffbfffff7ffffdfffffbffffffffefffffdfffff7ffffefffffbfffff7f");
  });
  it("carries one past a limb boundary: (2^26 - 1) + 1 = 2^26", () => {
    fe(A, "ffffff0300000000000000000000000000000000000000000000000000000000");
    fe(B, ONE);
    feAdd(C, A, B);
    expect(load<i32>(C)).toBe(1 << 26); // not carried yet
    feCarry(C);
    expect(load<i32>(C)).toBe(0);
    expect(load<i32>(C, 4)).toBe(1);
    expect(enc(C)).toBe("0000000400000000000000000000000000000000000000000000000000000000");
  });
  it("tests sign and zero on the reduced value", () => {
    fe(A, P);
    expect(feIsNonZero(A)).toBe(0);
    expect(feIsNegative(A)).toBe(0);
    fe(A, "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"); // p + 1 = 1
    expect(feIsNonZero(A)).toBe(1);
    expect(feIsNegative(A)).toBe(1);
    fe(A, P_MINUS_1);
    expect(feIsNegative(A)).toBe(0);
  });
});

describe("field25519 arithmetic", () => {
  it("multiplies and squares", () => {
    fe(A, VA);
    fe(B, VB);
    feMul(C, A, B);
    expect(enc(C)).toBe("d8851114382cac9fee3b9bb1b1b3c7257d4eea6362e1c7ad7c8503e65592b774");
    feSq(C, A);
    expect(enc(C)).toBe("6f82a848d773eab60620c7dca32e64ed3c5712731ec15fb4165dbcf470b7ae46");
    feMul(C, A, A);
    expect(enc(C)).toBe("6f82a848d773eab60620c7dca32e64ed3c5712731ec15fb4165dbcf470b7ae46");
  });
  it("multiplies in place (h = f)", () => {
    fe(A, VA);
    fe(B, VB);
    feMul(A, A, B);
    expect(enc(A)).toBe("d8851114382cac9fee3b9bb1b1b3c7257d4eea6362e1c7ad7c8503e65592b774");
  });
  it("adds, subtracts and negates mod p", () => {
    fe(A, VA);
    feNeg(B, A);
    feAdd(C, A, B);
    expect(enc(C)).toBe(ZERO);
    fe(B, ONE);
    feSub(C, B, A);
    feAdd(C, C, A);
    expect(enc(C)).toBe(ONE);
    fe(A, ZERO);
    feSub(C, A, B);
    expect(enc(C)).toBe(P_MINUS_1);
  });
  it("inverts: 1/a, 1/2 = (p + 1)/2, a * (1/a) = 1, 1/0 = 0", () => {
    fe(A, VA);
    feInvert(C, A);
    expect(enc(C)).toBe("b68f8b0dc37bd6df99ade12dcea9a50e68830f59280b04dcb805537ad4b8ed5e");
    feMul(C, C, A);
    expect(enc(C)).toBe(ONE);
    fe(A, "0200000000000000000000000000000000000000000000000000000000000000");
    feInvert(C, A);
    expect(enc(C)).toBe("f7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff3f");
    fe(A, ZERO);
    feInvert(C, A);
    expect(enc(C)).toBe(ZERO);
  });
  it("raises to (p - 5)/8, the square-root exponent", () => {
    fe(A, VA);
    fePow22523(C, A);
    expect(enc(C)).toBe("4f2775fc1ebb2035e15aea86e7fe4c6126de86d898e34ea043a640b9e9af4439");
  });
  it("has the right constants: sqrt(-1)^2 = -1, d * 121666 = -121665, 2d = d + d", () => {
    feSq(C, FE_SQRTM1);
    expect(enc(C)).toBe(P_MINUS_1);
    fe(A, "42db010000000000000000000000000000000000000000000000000000000000"); // 121666
    feMul(C, FE_D, A);
    fe(B, "41db010000000000000000000000000000000000000000000000000000000000"); // 121665
    feAdd(C, C, B);
    expect(enc(C)).toBe(ZERO);
    feAdd(C, FE_D, FE_D);
    feSub(C, C, FE_D2);
    expect(enc(C)).toBe(ZERO);
  });
  it("computes 1 from fe1", () => {
    fe1(A);
    expect(enc(A)).toBe(ONE);
  });
});
