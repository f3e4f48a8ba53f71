// An offline proof of a flag (docs/LEDGER.md §7.3): one JSON file a network, a court or a border
// check can verify with no network, holding only the registry's checkpoint key and a witness
// policy:
//   { "v": 1, "type": "antitheft-flag-proof",
//     "log": "<32 hex>", "index": uint,
//     "entry": "<base64 of the signed entry (COSE_Sign1, §2)>",
//     "proof": ["<base64 hash>", ...],        ; RFC 9162 §2.1.3 inclusion proof in the checkpoint's tree
//     "checkpoint": "<C2SP checkpoint note, with witnesses' cosignatures>" }
// It proves that the log signed this entry at this position, that the log committed to it in a
// checkpoint, and (with a policy) that a quorum of witnesses cosigned that checkpoint. It does not
// prove the flag still stands: a later clear is in later entries (a monitor's question).
import { kidOfPublic, publicKeyFromRaw, toHex } from "../../attestation/index.js";
import { accept, refuse, type Checked } from "./errors.js";
import { verifyEntry, type EntryBody } from "./entry.js";
import { openCheckpoint, type Checkpoint } from "./checkpoint.js";
import type { NoteVerifier } from "./note.js";
import { verifyInclusion } from "./verify.js";
import { cosignersIn, type WitnessPolicy } from "./witness-policy.js";
import type { Ledger } from "./ledger.js";

export interface FlagProofBundle {
  readonly v: 1;
  readonly type: "antitheft-flag-proof";
  readonly log: string;
  readonly index: number;
  readonly entry: string;
  readonly proof: readonly string[];
  readonly checkpoint: string;
}

const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");

/** The bundle of entry `index` of this registry's own log, in its latest (cosigned) checkpoint; undefined beyond it. */
export function buildFlagProof(ledger: Ledger, index: number): FlagProofBundle | undefined {
  const cp = ledger.checkpoint();
  const c = ledger.cosignedCheckpoint();
  const [size, note] = c && c.size > index ? [c.size, c.note] : [cp.head.size, cp.note];
  if (!Number.isSafeInteger(index) || index < 0 || index >= size) return undefined;
  const log = ledger.local.row.id;
  const entry = ledger.db.tree.entry(log, index)!;
  return { v: 1, type: "antitheft-flag-proof", log: ledger.logHex, index, entry: b64(entry), proof: ledger.db.tree.inclusion(log, index, size).map(b64), checkpoint: note };
}

export interface VerifiedFlag {
  readonly entry: EntryBody;
  readonly checkpoint: Checkpoint;
  /** The policy witnesses whose cosignatures verified. */
  readonly cosigners: number;
}

const isB64 = (s: unknown): s is string => typeof s === "string" && s.length <= 8192 && /^[A-Za-z0-9+/]*={0,2}$/.test(s) && s.length % 4 === 0;

/**
 * Verifies a bundle offline: the checkpoint under the log's note key (origin = its name) and the
 * policy's quorum, the entry's signature under the same key and its position, and the inclusion
 * proof to the checkpoint's root. Never throws.
 */
export function verifyFlagProof(bundle: unknown, o: { readonly log: NoteVerifier & { readonly publicKey: Uint8Array }; readonly policy?: WitnessPolicy }): Checked<VerifiedFlag> {
  const b = bundle as Partial<FlagProofBundle> | null;
  if (!b || typeof b !== "object" || b.v !== 1 || b.type !== "antitheft-flag-proof" || typeof b.log !== "string" || !Number.isSafeInteger(b.index) || (b.index as number) < 0) return refuse("E_LEDGER_SHAPE", "not a flag proof bundle (v 1)");
  if (!isB64(b.entry) || !Array.isArray(b.proof) || b.proof.length > 64 || !b.proof.every(isB64) || typeof b.checkpoint !== "string") return refuse("E_LEDGER_SHAPE", "a bundle field is missing or mistyped");
  const logId = kidOfPublic(o.log.publicKey);
  if (toHex(logId) !== b.log) return refuse("E_LEDGER_LOG", "the bundle names another log than the key given");
  const cp = openCheckpoint(b.checkpoint, o.log, o.log.name, o.policy?.cosigners ?? []);
  if (!cp.ok) return cp;
  const cosigners = o.policy ? cosignersIn(cp.value.note, o.policy) : 0;
  if (o.policy && cosigners < o.policy.quorum) return refuse("E_LEDGER_INCONSISTENT", `the checkpoint has ${cosigners} of the ${o.policy.quorum} witness cosignatures the policy requires`);
  const bytes = new Uint8Array(Buffer.from(b.entry, "base64"));
  const e = verifyEntry(bytes, publicKeyFromRaw(o.log.publicKey), logId);
  if (!e.ok) return e;
  const index = b.index as number;
  if (e.value.seq !== index) return refuse("E_LEDGER_SEQ", `the entry says it is entry ${e.value.seq}, the bundle ${index}`);
  const { size, root } = cp.value.checkpoint;
  const path = b.proof.map((h) => new Uint8Array(Buffer.from(h, "base64")));
  if (index >= size || !verifyInclusion(bytes, index, size, path, root)) return refuse("E_LEDGER_INCLUSION", `entry ${index} is not proved included in the checkpoint of size ${size}`);
  return accept({ entry: e.value, checkpoint: cp.value.checkpoint, cosigners });
}
