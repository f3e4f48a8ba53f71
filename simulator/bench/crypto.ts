// Benchmark section "crypto": the TA's Ed25519 and SHA-512 against node:crypto
// (OpenSSL) and @noble/curves, all measured in the same run on the same message sizes.
import crypto from "node:crypto";
import { statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ed25519 } from "@noble/curves/ed25519.js";
import { DEFAULT_TA_URL, TrustedApp } from "../../agent/trusted-app.js";
import { compareOpsPerSecond, type MeasureOptions } from "./measure.js";

/** Message signed and verified by all three implementations. */
export const SIGN_MESSAGE_BYTES = 64;
/** Message hashed by both SHA-512 implementations (the TA's whole I/O buffer). */
export const SHA512_MESSAGE_BYTES = 16384;

// RFC 8410: PKCS#8 DER prefix of a raw Ed25519 seed.
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

export type Figures = Record<string, number | string>;

const round = (x: number, digits = 0) => Number(x.toFixed(digits));

export async function benchCrypto(opts: MeasureOptions): Promise<Figures> {
  const ta = await TrustedApp.load();
  const seed = new Uint8Array(crypto.createHash("sha256").update("antitheft bench seed").digest());
  const msg = new Uint8Array(SIGN_MESSAGE_BYTES).map((_, i) => i);
  const big = new Uint8Array(SHA512_MESSAGE_BYTES).fill(0x61);

  // TA: ed25519_sign takes the seed each time (ABI v1), so it expands the key on every call.
  const taPub = ta.ed25519Public(seed);
  const taSig = ta.ed25519Sign(seed, msg);
  // OpenSSL keeps the imported key (expanded scalar and public key) in its key object.
  const sslKey = crypto.createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
  const sslPub = crypto.createPublicKey(sslKey);
  const sslSig = crypto.sign(null, msg, sslKey);
  // noble: sign(msg, seed) expands the seed on every call, as the TA does; strict RFC 8032 verify.
  const noblePub = ed25519.getPublicKey(seed);
  const nobleSig = ed25519.sign(msg, seed);
  if (
    Buffer.compare(Buffer.from(taSig), sslSig) !== 0 ||
    Buffer.compare(Buffer.from(taSig), Buffer.from(nobleSig)) !== 0 ||
    Buffer.compare(Buffer.from(taPub), Buffer.from(noblePub)) !== 0
  ) {
    throw new Error("the three implementations disagree on the benchmark signature");
  }

  const mib = SHA512_MESSAGE_BYTES / (1024 * 1024);
  // Each group is measured interleaved (best of 5 rounds), so the figures compared with each
  // other see the same machine load.
  const f: Record<string, number> = {
    ...compareOpsPerSecond(
      {
        ta_sign_per_s: () => ta.ed25519Sign(seed, msg),
        openssl_sign_per_s: () => crypto.sign(null, msg, sslKey),
        noble_sign_per_s: () => ed25519.sign(msg, seed),
      },
      opts,
    ),
    ...compareOpsPerSecond(
      {
        ta_verify_per_s: () => ta.ed25519Verify(taPub, taSig, msg),
        openssl_verify_per_s: () => crypto.verify(null, msg, sslPub, sslSig),
        noble_verify_per_s: () => ed25519.verify(nobleSig, msg, noblePub, { zip215: false }),
      },
      opts,
    ),
    ...compareOpsPerSecond({ ta_public_per_s: () => ta.ed25519Public(seed) }, opts),
    ...compareOpsPerSecond(
      {
        ta_sha512_mib_per_s: () => ta.sha512(big),
        openssl_sha512_mib_per_s: () => crypto.createHash("sha512").update(big).digest(),
      },
      opts,
    ),
  };
  f.ta_sha512_mib_per_s! *= mib;
  f.openssl_sha512_mib_per_s! *= mib;

  const n = (k: string) => f[k]!;
  const out: Figures = {};
  for (const [k, v] of Object.entries(f)) out[k] = round(v, k.endsWith("mib_per_s") ? 1 : 0);
  out.ta_sign_vs_openssl = round(n("ta_sign_per_s") / n("openssl_sign_per_s"), 2);
  out.ta_sign_vs_noble = round(n("ta_sign_per_s") / n("noble_sign_per_s"), 2);
  out.ta_verify_vs_openssl = round(n("ta_verify_per_s") / n("openssl_verify_per_s"), 2);
  out.ta_verify_vs_noble = round(n("ta_verify_per_s") / n("noble_verify_per_s"), 2);
  out.ta_sha512_vs_openssl = round(n("ta_sha512_mib_per_s") / n("openssl_sha512_mib_per_s"), 2);
  out.wasm_bytes = statSync(fileURLToPath(DEFAULT_TA_URL)).size;
  out.sign_msg_bytes = SIGN_MESSAGE_BYTES;
  out.sha512_msg_bytes = SHA512_MESSAGE_BYTES;
  return out;
}
