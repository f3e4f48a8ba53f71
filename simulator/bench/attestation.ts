// Benchmark section "attestation": a whole attestation in the TA against a bare TA
// signature, and the verifier's whole chain, measured interleaved in the same run.
//   attest_per_s            DeviceTA.attest (agent/device-ta.ts) on a provisioned, rebooted
//                           NORMAL device: 32-byte nonce, 32-byte host-reported measurement;
//                           the TA derives the key from the HUK, builds the claims and signs.
//   ta_sign_per_s_same_run  TrustedApp.ed25519Sign of the crypto section's 64-byte message (from a seed).
//   verify_token_per_s      verifyAttestation (attestation/verifier.ts): endorsement against the
//                           pinned OEM root, token against the endorsed key, claims, identity
//                           binding, nonce match and consumption. Each iteration verifies a token
//                           made for a fresh nonce that it first registers with the NonceStore
//                           (as a relying party issues one per exchange); the tokens are made
//                           before measuring. The verifier imports the endorsed device key
//                           (publicKeyFromRaw) on every call; it is measured as it is.
//   attest_cost_vs_sign     ta_sign_per_s_same_run / attest_per_s (target: <= 1.15).
import crypto from "node:crypto";
import { DeviceTA, sealedBlobVersion } from "../../agent/device-ta.js";
import { TrustedApp } from "../../agent/trusted-app.js";
import {
  createEndorsement, nodeSigner, NonceStore, OemRoots, privateKeyFromSeed, verifyAttestation,
} from "../../attestation/index.js";
import { SIGN_MESSAGE_BYTES, type Figures } from "./crypto.js";
import { compareOpsPerSecond, type MeasureOptions } from "./measure.js";

/** Bytes of the nonce and of the host-reported measurement in each token. */
export const ATTEST_NONCE_BYTES = 32;
export const ATTEST_MEASUREMENT_BYTES = 32;
/** Tokens made in advance for the verifier, each for its own nonce. */
const TOKEN_POOL = 256;

const bytes = (label: string, n = 32) => new Uint8Array(crypto.createHash("sha512").update(label).digest().subarray(0, n));
const round = (x: number, digits = 0) => Number(x.toFixed(digits));

export async function benchAttestation(opts: MeasureOptions): Promise<Figures> {
  const huk = bytes("antitheft bench HUK");
  const imei = "490154203237518";
  const imei2 = "356938035643809";
  const oemid = Uint8Array.of(0xac, 0xde, 0x48);
  const hwmodel = "AT-Phone 1";

  // Factory: first boot, provisioning; then a reboot from the stored blob, as in the field.
  const factory = await DeviceTA.load();
  factory.boot(huk, new Uint8Array(0), 0, 3);
  const v1 = factory.provision({ imei, imei2, oemid, hwmodel, registryKeys: [bytes("bench registry key")] });
  const device = await DeviceTA.load();
  const booted = device.boot(huk, v1, sealedBlobVersion(v1), 3);
  if (booted.blob === null) throw new Error("the benchmark device did not boot NORMAL");

  const oem = nodeSigner(privateKeyFromSeed(bytes("antitheft bench OEM root")));
  const endorsement = createEndorsement({
    oem, issuer: "Bench OEM", issuedAt: 1_700_000_000, deviceKey: device.devicePublic(), imei, imei2, oemid, hwmodel,
  });
  const oemRoots = new OemRoots([oem.publicKey]);

  const measurement = bytes("agent build", ATTEST_MEASUREMENT_BYTES);
  const nonce = bytes("attest nonce", ATTEST_NONCE_BYTES);
  const pool = Array.from({ length: TOKEN_POOL }, (_, i) => {
    const n = bytes(`verifier nonce ${i}`, ATTEST_NONCE_BYTES);
    return { nonce: n, token: device.attest(n, measurement) };
  });
  let nonces = new NonceStore({ ttlMs: 60_000 });
  let next = 0;
  const verifyOne = () => {
    const p = pool[next]!;
    if (next === 0) nonces = new NonceStore({ ttlMs: 60_000 }); // each pass over the pool uses a new store
    next = (next + 1) % TOKEN_POOL;
    nonces.register(p.nonce);
    const r = verifyAttestation({ token: p.token, endorsement, nonce: p.nonce }, { oemRoots, nonces });
    if (!r.ok) throw new Error(`the benchmark token did not verify: ${r.error.code}`);
  };
  verifyOne(); // fails loudly before measuring if anything is wrong

  const ta = await TrustedApp.load();
  const seed = bytes("antitheft bench seed");
  const msg = new Uint8Array(SIGN_MESSAGE_BYTES).map((_, i) => i);
  const tokenBytes = device.attest(nonce, measurement).length;

  const f = compareOpsPerSecond(
    {
      attest_per_s: () => device.attest(nonce, measurement),
      ta_sign_per_s_same_run: () => ta.ed25519Sign(seed, msg),
      verify_token_per_s: verifyOne,
    },
    opts,
  );
  return {
    attest_per_s: round(f.attest_per_s!),
    ta_sign_per_s_same_run: round(f.ta_sign_per_s_same_run!),
    attest_cost_vs_sign: round(f.ta_sign_per_s_same_run! / f.attest_per_s!, 3),
    verify_token_per_s: round(f.verify_token_per_s!),
    token_bytes: tokenBytes,
    endorsement_bytes: endorsement.length,
  };
}
