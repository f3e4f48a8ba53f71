// SHA-512 (FIPS 180-4), HMAC-SHA-512 (RFC 4231) and HKDF-SHA-512 inside the TA.
import { hkdfSha512 } from "../crypto/hkdf";
import { hmacSha512 } from "../crypto/hmac";
import { SHA512_CTX_SIZE, sha512, sha512Final, sha512Init, sha512Update } from "../crypto/sha512";
import { ascii, hexAt, put } from "./support/bytes";

const IN: usize = memory.data(1024, 16);
const OUT: usize = memory.data(256, 16);
const CTX: usize = memory.data(SHA512_CTX_SIZE, 16);

describe("sha512 (FIPS 180-4)", () => {
  it("hashes \"abc\" (one block)", () => {
    sha512(IN, ascii(IN, "abc"), OUT);
    expect(hexAt(OUT, 64)).toBe(
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a" +
      "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  });
  it("hashes the empty string", () => {
    sha512(IN, 0, OUT);
    expect(hexAt(OUT, 64)).toBe(
      "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce" +
      "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
  });
  it("hashes the 896-bit two-block message (padding spills into a second block)", () => {
    const n = ascii(IN, "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno" +
      "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu");
    expect(n).toBe(112);
    sha512(IN, n, OUT);
    expect(hexAt(OUT, 64)).toBe(
      "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018" +
      "501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909");
  });
  it("gives the same digest however the input is split", () => {
    for (let i = 0; i < 300; i++) store<u8>(IN + <usize>i, <u8>(i * 7 + 3));
    sha512(IN, 300, OUT);
    const whole = hexAt(OUT, 64);
    const cuts: i32[] = [0, 1, 111, 112, 127, 128, 129, 255, 256, 299, 300];
    for (let c = 0; c < cuts.length; c++) {
      sha512Init(CTX);
      sha512Update(CTX, IN, cuts[c]);
      sha512Update(CTX, IN + <usize>cuts[c], 300 - cuts[c]);
      sha512Final(CTX, OUT);
      expect(hexAt(OUT, 64)).toBe(whole);
    }
  });
  it("ignores negative lengths and wipes the context in sha512Final", () => {
    sha512Init(CTX);
    sha512Update(CTX, IN, ascii(IN, "abc"));
    sha512Update(CTX, IN, -5);
    sha512Final(CTX, OUT);
    expect(hexAt(OUT, 8)).toBe("ddaf35a193617aba");
    let acc: u32 = 0;
    for (let i = 0; i < SHA512_CTX_SIZE; i++) acc |= load<u8>(CTX + <usize>i);
    expect(acc).toBe(0);
  });
  it("hashes one million 'a' streamed through sha512Init/Update/Final (FIPS 180-4 long message)", () => {
    // Too long for the ABI's 16 KiB I/O buffer: streamed here, 1,000,000 = 1002 chunks of 997
    // bytes (odd, so every chunk straddles a 128-byte block boundary) + a last one of 1006.
    memory.fill(IN, 0x61, 1024);
    sha512Init(CTX);
    let left: i32 = 1000000;
    while (left > 0) {
      const n = left >= 2 * 997 ? 997 : left;
      sha512Update(CTX, IN, n);
      left -= n;
    }
    sha512Final(CTX, OUT);
    expect(hexAt(OUT, 64)).toBe(
      "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb" +
      "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b");
  });
  it("lets the digest overwrite its own input", () => {
    sha512(IN, ascii(IN, "abc"), IN);
    expect(hexAt(IN, 8)).toBe("ddaf35a193617aba");
  });
});

describe("hmacSha512 (RFC 4231)", () => {
  it("test case 1: 20-byte key", () => {
    for (let i = 0; i < 20; i++) store<u8>(IN + <usize>i, 0x0b);
    const m = ascii(IN + 20, "Hi There");
    hmacSha512(IN, 20, IN + 20, m, OUT);
    expect(hexAt(OUT, 64)).toBe(
      "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde" +
      "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");
  });
  it("test case 2: short key", () => {
    const k = ascii(IN, "Jefe");
    const m = ascii(IN + 4, "what do ya want for nothing?");
    hmacSha512(IN, k, IN + 4, m, OUT);
    expect(hexAt(OUT, 64)).toBe(
      "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554" +
      "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
  });
  it("test case 6: a 131-byte key is hashed first", () => {
    for (let i = 0; i < 131; i++) store<u8>(IN + <usize>i, 0xaa);
    const m = ascii(IN + 131, "Test Using Larger Than Block-Size Key - Hash Key First");
    hmacSha512(IN, 131, IN + 131, m, OUT);
    expect(hexAt(OUT, 64)).toBe(
      "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352" +
      "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598");
  });
});

describe("hkdfSha512 (RFC 5869)", () => {
  it("expands the RFC 5869 case 1 inputs with SHA-512 (value from node:crypto hkdfSync)", () => {
    for (let i = 0; i < 22; i++) store<u8>(IN + <usize>i, 0x0b);
    put(IN + 22, "000102030405060708090a0b0c");
    put(IN + 35, "f0f1f2f3f4f5f6f7f8f9");
    expect(hkdfSha512(IN, 22, IN + 22, 13, IN + 35, 10, OUT, 42)).toBe(true);
    expect(hexAt(OUT, 42)).toBe(
      "832390086cda71fb47625bb5ceb168e4c8e26a1a16ed34d9fc7fe92c1481579338da362cb8d9f925d7cb");
  });
  it("refuses out lengths over 255 * 64 or below zero, and allows 0", () => {
    expect(hkdfSha512(IN, 22, IN, 0, IN, 0, OUT, 255 * 64 + 1)).toBe(false);
    expect(hkdfSha512(IN, 22, IN, 0, IN, 0, OUT, -1)).toBe(false);
    expect(hkdfSha512(IN, 22, IN, 0, IN, 0, OUT, 0)).toBe(true);
  });
});
