// Standard known-answer vectors shared by the TA tests (ta-vectors, ta-wasm2c, selftest):
// FIPS 180-4 SHA-512, RFC 4231 HMAC-SHA-512, RFC 8032 §7.1 Ed25519 (test/vectors/*.json).
// Each was cross-checked against node:crypto when written, and ta-vectors re-checks that.
import { readFileSync } from "node:fs";
import { ascii, unhex } from "./ta.js";

// FIPS 180-4 / the NIST CSRC SHA-512 examples (SHA512.pdf): "abc", the two-block 896-bit
// message, and the empty message; one million "a" is the classic long-message vector.
export const SHA512_VECTORS: { name: string; msg: Uint8Array; digest: string }[] = [
  {
    name: "empty",
    msg: ascii(""),
    digest:
      "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
  },
  {
    name: "abc",
    msg: ascii("abc"),
    digest:
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
  },
  {
    name: "896-bit two-block message",
    msg: ascii(
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
    ),
    digest:
      "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909",
  },
];
export const MILLION_A_DIGEST =
  "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b";

// RFC 4231 §4.2-§4.8, HMAC-SHA-512 (case 5 is specified truncated to 128 bits).
export const HMAC_VECTORS: { name: string; key: Uint8Array; data: Uint8Array; mac: string }[] = [
  {
    name: "case 1",
    key: unhex("0b".repeat(20)),
    data: ascii("Hi There"),
    mac: "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
  },
  {
    name: "case 2 (key shorter than the output)",
    key: ascii("Jefe"),
    data: ascii("what do ya want for nothing?"),
    mac: "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
  },
  {
    name: "case 3",
    key: unhex("aa".repeat(20)),
    data: unhex("dd".repeat(50)),
    mac: "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb",
  },
  {
    name: "case 4",
    key: unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
    data: unhex("cd".repeat(50)),
    mac: "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd",
  },
  {
    name: "case 5 (truncated to 128 bits)",
    key: unhex("0c".repeat(20)),
    data: ascii("Test With Truncation"),
    mac: "415fad6271580a531d4179bc891d87a6",
  },
  {
    name: "case 6 (131-byte key, hashed first)",
    key: unhex("aa".repeat(131)),
    data: ascii("Test Using Larger Than Block-Size Key - Hash Key First"),
    mac: "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
  },
  {
    name: "case 7 (131-byte key and long data)",
    key: unhex("aa".repeat(131)),
    data: ascii(
      "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
    ),
    mac: "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58",
  },
];

export interface Ed25519Vector {
  name: string;
  secret: string;
  public: string;
  message: string;
  signature: string;
}
export const RFC8032 = JSON.parse(
  readFileSync(new URL("../../../test/vectors/rfc8032-ed25519.json", import.meta.url), "utf8"),
) as { vectors: Ed25519Vector[] };
