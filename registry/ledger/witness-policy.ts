// A member's witness policy (docs/LEDGER.md §7.2): a peer's flags apply only once a checkpoint of
// its log covering them carries cosignatures (C2SP tlog-cosignature) of at least `quorum` distinct
// witnesses of the policy. The policy file is JSON:
//   { "quorum": 2, "witnesses": ["witness.example/w1+8d66cf3f+BK...", "..."] }
// (cosigner keys as `antitheft witness` prints them). Validation at the boundary: RangeError.
import { toHex } from "../../attestation/index.js";
import { parseCosignerKey, type Cosigner } from "./cosignature.js";
import type { OpenedNote } from "./note.js";

export interface WitnessPolicy {
  readonly quorum: number;
  readonly cosigners: readonly Cosigner[];
}

export function witnessPolicy(p: { quorum: number; witnesses: readonly string[] }): WitnessPolicy {
  const cosigners = p.witnesses.map((k) => {
    const c = parseCosignerKey(k);
    if (!c.ok) throw new RangeError(`witness policy: ${k}: ${c.reason}`);
    return c.value;
  });
  if (new Set(cosigners.map((c) => c.name)).size !== cosigners.length) throw new RangeError("witness policy: two witnesses with one name");
  if (!Number.isSafeInteger(p.quorum) || p.quorum < 1 || p.quorum > cosigners.length) throw new RangeError(`witness policy: quorum must be 1..${cosigners.length}`);
  return { quorum: p.quorum, cosigners };
}

/** Parses a policy file's text. Throws RangeError with the reason. */
export function parseWitnessPolicy(text: string): WitnessPolicy {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new RangeError(`witness policy: not JSON (${(e as Error).message})`);
  }
  const o = v as { quorum?: unknown; witnesses?: unknown };
  if (!o || typeof o !== "object" || typeof o.quorum !== "number" || !Array.isArray(o.witnesses) || !o.witnesses.every((w) => typeof w === "string") || Object.keys(o).some((k) => k !== "quorum" && k !== "witnesses")) {
    throw new RangeError('witness policy: expected {"quorum": N, "witnesses": ["<cosigner key>", ...]}');
  }
  return witnessPolicy({ quorum: o.quorum, witnesses: o.witnesses as string[] });
}

/** How many distinct policy witnesses verified cosignatures of an opened checkpoint. */
export function cosignersIn(note: OpenedNote, policy: WitnessPolicy): number {
  const ids = new Set(policy.cosigners.map((c) => `${c.name}+${toHex(c.id)}`));
  return new Set(note.verified.map((s) => `${s.name}+${s.id}`).filter((k) => ids.has(k))).size;
}
