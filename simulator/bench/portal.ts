// Benchmark section "portal": what a passkey costs the registry (docs/PORTAL.md §3). The full
// check of a WebAuthn assertion over a request's challenge (clientDataJSON, origin, RP id hash,
// counter, then the signature through @simplewebauthn/server), ES256 and EdDSA, against the
// signature check of the same request as an Ed25519 COSE_Sign1 (the CLI owner's). In this
// process, no HTTP; prints figures only, asserts nothing.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { encodeDeterministic, generateEd25519, kidOfCoseKey } from "../../attestation/index.js";
import { decodeSign1 } from "../../attestation/index.js";
import { verifySign1Signature } from "../../attestation/cose/sign1.js";
import { Registry } from "../../registry/registry.js";
import { signingKey } from "../../registry/keys.js";
import { buildPayload, buildRequest } from "../../registry/request-codec.js";
import { requestChallenge, verifyAssertion, type Assertion } from "../../registry/webauthn.js";
import type { Figures } from "./crypto.js";
import type { MeasureOptions } from "./measure.js";

const ORIGIN = "http://localhost:8080";
const sha256 = (b: Uint8Array | string): Buffer => createHash("sha256").update(b).digest();

function passkey(alg: "ES256" | "EdDSA"): { key: KeyObject; coseKey: Uint8Array } {
  if (alg === "ES256") {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const j = publicKey.export({ format: "jwk" });
    return { key: privateKey, coseKey: encodeDeterministic(new Map<number, number | Uint8Array>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(j.x!, "base64url")], [-3, Buffer.from(j.y!, "base64url")]])) };
  }
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const j = publicKey.export({ format: "jwk" });
  return { key: privateKey, coseKey: encodeDeterministic(new Map<number, number | Uint8Array>([[1, 1], [3, -8], [-1, 6], [-2, Buffer.from(j.x!, "base64url")]])) };
}

/** Checks per second of `check`, run back to back for `seconds` after a warm-up. */
async function perSecond(check: () => unknown, o: MeasureOptions): Promise<number> {
  const run = async (s: number): Promise<number> => {
    const end = performance.now() + s * 1000;
    const start = performance.now();
    let n = 0;
    while (performance.now() < end) {
      await check();
      n++;
    }
    return n / ((performance.now() - start) / 1000);
  };
  await run(o.warmup);
  return Math.round(await run(o.seconds));
}

export async function benchPortal(o: MeasureOptions): Promise<Figures> {
  const dir = await mkdtemp(join(tmpdir(), "antitheft-bench-portal-"));
  const registryKey = signingKey(generateEd25519().privateKey);
  const r = new Registry({ db: join(dir, "registry.sqlite"), registryKey, oemRoots: [signingKey(generateEd25519().privateKey).publicKey], portal: { origins: [ORIGIN] } });
  try {
    const request = { type: "report-stolen" as const, imei: "490154203237518", message: "stolen", contact: "+15550100" };
    const payload = buildPayload(request, registryKey.kid);
    const challenge = Buffer.from(requestChallenge(payload)).toString("base64url");
    const figures: Figures = {};
    for (const alg of ["ES256", "EdDSA"] as const) {
      const p = passkey(alg);
      const credentialId = new Uint8Array(randomBytes(16));
      r.store.passkeys.add({ credentialId, kid: kidOfCoseKey(p.coseKey), publicKey: p.coseKey, alg: alg === "ES256" ? -7 : -8, counter: 0, name: alg }, 0);
      const authenticatorData = Buffer.concat([sha256("localhost"), Buffer.of(0x05), Buffer.from([0, 0, 0, 1])]);
      const clientDataJSON = Buffer.from(JSON.stringify({ type: "webauthn.get", challenge, origin: ORIGIN, crossOrigin: false }));
      const data = Buffer.concat([authenticatorData, sha256(clientDataJSON)]);
      const signature = alg === "ES256" ? sign("sha256", data, { key: p.key, dsaEncoding: "der" }) : sign(null, data, p.key);
      const a: Assertion = { credentialId, authenticatorData, clientDataJSON, signature };
      const expected = requestChallenge(payload);
      figures[`portal_assertion_${alg.toLowerCase()}_checks_per_s`] = await perSecond(() => verifyAssertion(r.ctx, a, expected), o);
    }
    const owner = signingKey(generateEd25519().privateKey);
    const cose = decodeSign1(buildRequest(owner.signer, request, registryKey.kid));
    figures.portal_cose_request_checks_per_s = await perSecond(() => verifySign1Signature(cose, owner.publicKey), o);
    return figures;
  } finally {
    await r.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
