// Edwards25519 points and Ed25519 (assembly/crypto/edwards25519.ts, ed25519.ts): encodings,
// base-point and double-scalar multiplication, RFC 8032 §7.1 vectors and strict verification.
import {
  geDoubleScalarMultVartime, geFromBytes, geScalarMultBase, geToBytes
} from "../crypto/edwards25519";
import {
  ed25519KeyFromSeed, ed25519SignExpanded, ed25519SignSeed, ed25519Verify
} from "../crypto/ed25519";
import { hexAt, put } from "./support/bytes";

const P: usize = memory.data(160, 16);
const Q: usize = memory.data(160, 16);
const S: usize = memory.data(32, 16);
const S2: usize = memory.data(32, 16);
const ENC: usize = memory.data(32, 16);
const OUT: usize = memory.data(64, 16);
const EXP: usize = memory.data(64, 16);
const PUB: usize = memory.data(32, 16);
const MSG: usize = memory.data(64, 16);

/** Decodes the hex point encoding into P and re-encodes it; "" if it does not decode. */
function roundTrip(h: string): string {
  put(ENC, h);
  if (!geFromBytes(P, ENC)) return "";
  geToBytes(OUT, P);
  return hexAt(OUT, 32);
}

/** Encoding of s * B for a little-endian hex scalar s. */
function base(h: string): string {
  memory.fill(S, 0, 32);
  put(S, h);
  geScalarMultBase(P, S);
  geToBytes(OUT, P);
  return hexAt(OUT, 32);
}

const B = "5866666666666666666666666666666666666666666666666666666666666666";
const IDENTITY = "0100000000000000000000000000000000000000000000000000000000000000";
const L = "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";

describe("point encoding (RFC 8032 §5.1.2, §5.1.3)", () => {
  it("round-trips B, -B, 2B and the identity", () => {
    expect(roundTrip(B)).toBe(B);
    expect(roundTrip("58666666666666666666666666666666666666666666666666666666666666e6"))
      .toBe("58666666666666666666666666666666666666666666666666666666666666e6");
    expect(roundTrip("c9a3f86aae465f0e56513864510f3997561fa2c9e85ea21dc2292309f3cd6022"))
      .toBe("c9a3f86aae465f0e56513864510f3997561fa2c9e85ea21dc2292309f3cd6022");
    expect(roundTrip(IDENTITY)).toBe(IDENTITY);
  });
  it("decodes y >= p as y - p (as OpenSSL does) but re-encodes canonically, so such an R never verifies", () => {
    // y = p + 1: the identity, non-canonically
    expect(roundTrip("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")).toBe(IDENTITY);
    // y = p: (sqrt(-1), 0), of order 4
    expect(roundTrip("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"))
      .toBe("0000000000000000000000000000000000000000000000000000000000000000");
  });
  it("decodes x = 0 with the sign bit set to x = 0 (as OpenSSL does)", () => {
    expect(roundTrip("0100000000000000000000000000000000000000000000000000000000000080")).toBe(IDENTITY);
  });
  it("rejects y values with no x: y = 2 and y = p + 2", () => {
    expect(roundTrip("0200000000000000000000000000000000000000000000000000000000000000")).toBe("");
    expect(roundTrip("efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")).toBe("");
  });
});

describe("scalar multiplication", () => {
  it("1 * B = B, 2 * B, 5 * B, (L - 1) * B = -B, L * B = identity, 0 * B = identity", () => {
    expect(base("01")).toBe(B);
    expect(base("02")).toBe("c9a3f86aae465f0e56513864510f3997561fa2c9e85ea21dc2292309f3cd6022");
    expect(base("05")).toBe("edc876d6831fd2105d0b4389ca2e283166469289146e2ce06faefe98b22548df");
    expect(base("ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010"))
      .toBe("58666666666666666666666666666666666666666666666666666666666666e6");
    expect(base(L)).toBe(IDENTITY);
    expect(base("00")).toBe(IDENTITY);
  });
  it("a * A + b * B with A = 2B: 3 * 2B + 4 * B = 10B", () => {
    put(ENC, "c9a3f86aae465f0e56513864510f3997561fa2c9e85ea21dc2292309f3cd6022");
    expect(geFromBytes(Q, ENC)).toBe(true);
    memory.fill(S, 0, 32);
    memory.fill(S2, 0, 32);
    store<u8>(S, 3);
    store<u8>(S2, 4);
    geDoubleScalarMultVartime(P, S, Q, S2);
    geToBytes(OUT, P);
    expect(hexAt(OUT, 32)).toBe("2c7be86ab07488ba43e8e03d85a67625cfbf98c8544de4c877241b7aaafc7fe3");
  });
});

describe("Ed25519 (RFC 8032 §7.1)", () => {
  it("TEST 1: public key and signature of the empty message", () => {
    put(S, "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    ed25519KeyFromSeed(S, EXP, PUB);
    expect(hexAt(PUB, 32)).toBe("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    ed25519SignExpanded(EXP, PUB, MSG, 0, OUT);
    expect(hexAt(OUT, 64)).toBe(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155" +
      "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
    expect(ed25519Verify(PUB, OUT, MSG, 0)).toBe(true);
  });
  it("TEST 2: one-byte message, signed from the seed", () => {
    put(S, "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
    put(MSG, "72");
    ed25519SignSeed(S, MSG, 1, OUT);
    expect(hexAt(OUT, 64)).toBe(
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da" +
      "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
    put(PUB, "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
    expect(ed25519Verify(PUB, OUT, MSG, 1)).toBe(true);
    store<u8>(MSG, 0x73);
    expect(ed25519Verify(PUB, OUT, MSG, 1)).toBe(false);
  });
  it("rejects S = L and S + L, accepts nothing for an undecodable key", () => {
    put(S, "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
    put(MSG, "72");
    ed25519SignSeed(S, MSG, 1, OUT);
    put(PUB, "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
    put(OUT + 32, L);
    expect(ed25519Verify(PUB, OUT, MSG, 1)).toBe(false);
    // S + L (computed with Python integers; still < 2^256)
    put(OUT + 32, "f52db7415978abc61b2c2eb6aeebfca0387b2eaeb4302aeeb00d291612bb0c10");
    expect(ed25519Verify(PUB, OUT, MSG, 1)).toBe(false);
    put(OUT + 32, "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
    expect(ed25519Verify(PUB, OUT, MSG, 1)).toBe(true);
    put(PUB, "0200000000000000000000000000000000000000000000000000000000000000");
    expect(ed25519Verify(PUB, OUT, MSG, 1)).toBe(false);
  });
  it("with A = identity, accepts R = S * B for any message, but not R's non-canonical encodings", () => {
    put(PUB, IDENTITY);
    memory.fill(OUT + 32, 0, 32);
    put(OUT, IDENTITY);                       // S = 0, R = identity
    expect(ed25519Verify(PUB, OUT, MSG, 1)).toBe(true);
    put(OUT, "0100000000000000000000000000000000000000000000000000000000000080"); // x = 0, sign set
    expect(ed25519Verify(PUB, OUT, MSG, 1)).toBe(false);
    put(OUT, "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"); // y = p + 1
    expect(ed25519Verify(PUB, OUT, MSG, 1)).toBe(false);
  });
});
