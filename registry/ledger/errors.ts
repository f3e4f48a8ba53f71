// What a ledger check can find wrong, with stable codes (STYLE.md 4). Verification of hostile
// bytes answers a Checked<T> and never throws; the auditor, the alarms table and the logs carry
// these codes. Codes are stable: never rename or reuse one, only append.

export const LEDGER_ERRORS = {
  E_LEDGER_SHAPE: "not a ledger entry, tree head or message of docs/LEDGER.md (CBOR, COSE_Sign1 or field shape)",
  E_LEDGER_SIGNATURE: "the COSE_Sign1 signature does not verify under the log's key",
  E_LEDGER_LOG: "the object names another log than the one expected, or a log whose key is not pinned",
  E_LEDGER_SEQ: "an entry is not at the position it says it is",
  E_LEDGER_ROOT: "the entries do not reproduce the signed root hash",
  E_LEDGER_FORK: "two validly signed tree heads of one log disagree (same size, different roots, or no consistency between them)",
  E_LEDGER_ENTRY_FORK: "two different validly signed entries of one log claim the same position",
  E_LEDGER_INCONSISTENT: "a consistency proof does not verify between two tree heads",
  E_LEDGER_INCLUSION: "an inclusion proof does not verify",
  E_LEDGER_STALE: "a registry served a tree head older than one already seen (consistent, but stale)",
  E_LEDGER_UNREACHABLE: "the registry could not be reached or answered something that is not the ledger API",
} as const;

export type LedgerErrorCode = keyof typeof LEDGER_ERRORS;

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly code: LedgerErrorCode; readonly reason: string };

export const refuse = (code: LedgerErrorCode, reason: string = LEDGER_ERRORS[code]): { ok: false; code: LedgerErrorCode; reason: string } => ({ ok: false, code, reason });

export const accept = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });
