// Ledger federation over MQTT (docs/LEDGER.md §6, PROTOCOL.md §7). Every topic sits under
// at/v1/ledger/<log>/ where <log> is the log id (the registry key's kid) in 32 lowercase hex
// characters, so one bridge rule (`topic at/v1/ledger/# both 1`) carries a federation between
// brokers. All messages QoS 1.
//
// | topic                       | from        | retained | payload                                   |
// |-----------------------------|-------------|----------|-------------------------------------------|
// | at/v1/ledger/<log>/entry    | the log     | no       | a signed entry (entry.ts)                 |
// | at/v1/ledger/<log>/sth      | the log     | yes      | its latest signed tree head (tree-head.ts) |
// | at/v1/ledger/<log>/gossip   | anyone      | no       | a head of <log> the sender verified        |
// | at/v1/ledger/<log>/alarm    | anyone      | yes      | fork evidence: `alarm` below               |
// | at/v1/ledger/<log>/checkpoint | the log   | yes      | its latest C2SP checkpoint with the witnesses' cosignatures |
// | at/v1/ledger/<log>/get      | a member    | no       | a signed get (get-request.ts): the log re-publishes entries |
import { encodeDeterministic } from "../../attestation/cbor/deterministic.js";
import { decodeStrict } from "../../attestation/cbor/strict.js";
import { isCborMap } from "../../attestation/cbor/value.js";
import { TOPIC_PREFIX } from "../../protocol/messages.js";
import { accept, refuse, type Checked } from "./errors.js";
import { field, MAX_OBJECT_BYTES } from "./signed.js";

export const LEDGER_TOPIC_PREFIX = `${TOPIC_PREFIX}ledger/`;
export const LEDGER_TOPICS = ["entry", "sth", "gossip", "alarm", "get", "checkpoint"] as const;
export type LedgerTopicKind = (typeof LEDGER_TOPICS)[number];

export function ledgerTopic(logHex: string, kind: LedgerTopicKind): string {
  if (!/^[0-9a-f]{32}$/.test(logHex)) throw new RangeError("a log id is 32 lowercase hex characters");
  return `${LEDGER_TOPIC_PREFIX}${logHex}/${kind}`;
}

export function parseLedgerTopic(topic: string): { log: string; kind: LedgerTopicKind } | undefined {
  const m = /^at\/v1\/ledger\/([0-9a-f]{32})\/([a-z]+)$/.exec(topic);
  if (!m || !(LEDGER_TOPICS as readonly string[]).includes(m[2]!)) return undefined;
  return { log: m[1]!, kind: m[2] as LedgerTopicKind };
}

export type EvidenceCode = "E_LEDGER_FORK" | "E_LEDGER_ENTRY_FORK";

export interface Evidence {
  readonly code: EvidenceCode;
  /** Two signed heads of one size (E_LEDGER_FORK) or two signed entries of one position (E_LEDGER_ENTRY_FORK). */
  readonly a: Uint8Array;
  readonly b: Uint8Array;
}

/** alarm = { "v": 1, "code": "E_LEDGER_FORK" / "E_LEDGER_ENTRY_FORK", "a": bstr, "b": bstr } */
export function encodeEvidence(e: Evidence): Uint8Array {
  return encodeDeterministic({ v: 1, code: e.code, a: e.a, b: e.b });
}

export function decodeEvidence(bytes: Uint8Array): Checked<Evidence> {
  try {
    const m = decodeStrict(bytes, { maxBytes: 3 * MAX_OBJECT_BYTES, maxDepth: 2, maxItems: 16 });
    if (!isCborMap(m) || !field.keys(m, ["v", "code", "a", "b"]) || m.get("v") !== 1) return refuse("E_LEDGER_SHAPE", "alarm fields");
    const code = field.text(m, "code", ["E_LEDGER_FORK", "E_LEDGER_ENTRY_FORK"]) as EvidenceCode | undefined;
    const a = m.get("a");
    const b = m.get("b");
    if (!code || !(a instanceof Uint8Array) || !(b instanceof Uint8Array)) return refuse("E_LEDGER_SHAPE", "alarm fields");
    return accept({ code, a, b });
  } catch (e) {
    return refuse("E_LEDGER_SHAPE", (e as Error).message);
  }
}
