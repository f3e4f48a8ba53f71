// The owner's claim flow of PROTOCOL.md §6.2 for tests: ask the registry for a claim code with a
// signed "claim-code" request, have the handset sign a registration-purpose token (EAT intuse 2)
// for it - what the user does on the handset - and send the claim with the code and the proof.
import { INTUSE } from "../../attestation/eat/profile.js";
import { claimNonce } from "../../protocol/claim-code.js";
import type { RequestInput } from "../../registry/request-codec.js";
import type { SigningKey } from "../../registry/keys.js";

export interface ClaimingTa {
  attest(nonce: Uint8Array, measurement?: Uint8Array, purpose?: number): Uint8Array;
}

export interface Answer {
  readonly status: number;
  readonly body: any;
}

/** A claim proof as the handset makes it for a typed code. */
export function claimProofFor(ta: ClaimingTa, code: string): Uint8Array {
  return ta.attest(claimNonce(code), undefined, INTUSE.REGISTRATION);
}

/** claim-code then claim, both through `send` (which signs with `owner`). Returns the claim's answer (or the refused claim-code's). */
export async function claimWithCode(send: (r: RequestInput) => Promise<Answer>, owner: SigningKey, ta: ClaimingTa, imei: string): Promise<Answer> {
  const c = await send({ type: "claim-code", imei, key: owner.coseKey });
  if (c.status !== 200) return c;
  const code = c.body.code as string;
  return send({ type: "claim", imei, key: owner.coseKey, code, proof: claimProofFor(ta, code) });
}
