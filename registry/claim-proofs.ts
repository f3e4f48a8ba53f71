// Claim proofs (PROTOCOL.md §6.2 "Claim codes"): checking one, and the hand-in box through which
// a handset gives the registry the proof for a code its user typed (docs/PORTAL.md §4), so an
// owner on the portal sees the claim complete without copying the proof by hand. A proof handed
// in is verified first and kept with its code; only the owner the code was issued to can use it,
// in a claim request its own key signs.
import { INTUSE } from "../attestation/eat/profile.js";
import { RegistryError } from "./errors.js";
import type { Context } from "./context.js";
import { deviceImeis } from "./commands.js";
import { claimNonce, verifyBoundToken } from "./device-proof.js";
import { normalizeClaimCode } from "../protocol/claim-code.js";

/**
 * The device (did) of `imei` whose registration-purpose token (EAT intuse 2) for claimNonce(code)
 * `proof` is; E_UNKNOWN_DEVICE / E_BAD_PROOF otherwise. A token made for any other use - a
 * challenge answer, a command result - is refused, whatever its nonce.
 */
export function claimProofDid(ctx: Context, imei: string, code: string, proof: Uint8Array): string {
  const nonce = claimNonce(code);
  let lastError = "E_UNKNOWN_DEVICE";
  for (const did of ctx.store.imeis.didsFor(imei)) {
    const dev = ctx.store.devices.get(did);
    if (!dev) continue;
    const v = verifyBoundToken({ deviceKey: dev.deviceKey, ...deviceImeis(ctx.store, did) }, proof, nonce, [INTUSE.REGISTRATION]);
    if (v.ok && !v.value.tampered) return did;
    lastError = v.ok ? "the device is TAMPERED" : v.error.code;
  }
  if (lastError === "E_UNKNOWN_DEVICE") throw new RegistryError("E_UNKNOWN_DEVICE");
  throw new RegistryError("E_BAD_PROOF", `the claim proof does not verify (${lastError})`);
}

/** A claim proof is an EAT of a few hundred bytes. */
export const MAX_PROOF_BYTES = 4096;

/**
 * POST /antitheft/v1/claim-proofs, JSON {"code": the code as typed, "proof": hex}: keeps a proof
 * that verifies for a live code. Refusals: E_BAD_REQUEST, E_CLAIM_CODE_UNKNOWN / _EXPIRED / _USED,
 * E_BAD_PROOF; nothing changes then.
 */
export async function handInClaimProof(ctx: Context, body: Uint8Array): Promise<{ ok: true; imei: string }> {
  let j: { code?: unknown; proof?: unknown };
  try {
    j = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body)) as typeof j;
  } catch {
    throw new RegistryError("E_BAD_REQUEST", `expected JSON {"code", "proof"}`);
  }
  if (j === null || typeof j !== "object" || typeof j.proof !== "string" || !/^([0-9a-f]{2}){1,4096}$/i.test(j.proof)) {
    throw new RegistryError("E_BAD_REQUEST", `expected JSON {"code": "XXXXX-XXXXX", "proof": "<hex>"}`);
  }
  let code: string;
  try {
    code = normalizeClaimCode(j.code as string);
  } catch (e) {
    throw new RegistryError("E_BAD_REQUEST", `"code" is not a claim code (${(e as Error).message})`);
  }
  const c = ctx.store.claimCodes.get(code);
  if (!c) throw new RegistryError("E_CLAIM_CODE_UNKNOWN", "no such claim code");
  if (c.usedAt !== null) throw new RegistryError("E_CLAIM_CODE_USED");
  if (ctx.clock.now() >= c.expiresAt) throw new RegistryError("E_CLAIM_CODE_EXPIRED");
  const proof = new Uint8Array(Buffer.from(j.proof, "hex"));
  claimProofDid(ctx, c.imei, code, proof);
  if (!(await ctx.gc.run(() => ctx.store.claimCodes.setProof(code, proof)))) throw new RegistryError("E_CLAIM_CODE_USED");
  ctx.log.log("info", "claim.proof-handed-in", { imei: c.imei });
  return { ok: true, imei: c.imei };
}
