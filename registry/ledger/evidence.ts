// Checks fork evidence (topics.ts `alarm`, HTTP /ledger/alarms) under the accused log's key.
// Evidence is self-proving: two objects the log signed that cannot both be true. Never throws.
import type { KeyObject } from "node:crypto";
import { equalBytes } from "../../attestation/bytes.js";
import { verifyEntry } from "./entry.js";
import { isFork, verifyTreeHead } from "./tree-head.js";
import { accept, refuse, type Checked } from "./errors.js";
import type { EvidenceCode } from "./topics.js";

/** The size (E_LEDGER_FORK) or position (E_LEDGER_ENTRY_FORK) the log equivocated at. */
export function checkEvidence(code: EvidenceCode, a: Uint8Array, b: Uint8Array, key: KeyObject, logId: Uint8Array): Checked<number> {
  if (code === "E_LEDGER_FORK") {
    const ha = verifyTreeHead(a, key, logId);
    const hb = verifyTreeHead(b, key, logId);
    if (!ha.ok) return ha;
    if (!hb.ok) return hb;
    if (!isFork(ha.value, hb.value)) return refuse("E_LEDGER_SHAPE", "the two heads do not conflict (sizes differ or roots are equal)");
    return accept(ha.value.size);
  }
  const ea = verifyEntry(a, key, logId);
  const eb = verifyEntry(b, key, logId);
  if (!ea.ok) return ea;
  if (!eb.ok) return eb;
  if (ea.value.seq !== eb.value.seq || equalBytes(a, b)) return refuse("E_LEDGER_SHAPE", "the two entries do not conflict (positions differ or bytes are equal)");
  return accept(ea.value.seq);
}
