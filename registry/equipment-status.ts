// Equipment status for networks (3GPP TS 29.511 N5g-eir_EquipmentIdentityCheck, PROTOCOL.md §6.3)
// (device views: device-view.ts). The rule is status-rule.ts.
// Flags other registries of the federation published (docs/LEDGER.md) count like local ones, so
// a device reported stolen at another operator's registry is BLACKLISTED here too, known or not.
// A flag covers the whole device: a peer's flag on any IMEI bound to a device (a dual-IMEI
// handset's IMEI 1, say) counts for every IMEI bound to it (devicePeerFlags).
// Where the answer comes from (docs/STORAGE.md §4): a registry that does not federate answers
// from its status snapshot (SQLite, status-snapshot.ts) or cache (PostgreSQL, status-cache.ts),
// both never stale for a flag; inside a transaction, and on a federated registry (whose peer
// flags also depend on its peers' checkpoints), from the tables.
import { imeiFromTacSnr, isValidImei, parsePei } from "../attestation/index.js";
import type { Store, PeerFlag } from "./store.js";
import { NO_PEER_FLAGS } from "./store.js";
import { statusFrom, type EquipmentStatus } from "./status-rule.js";

export type { EquipmentStatus } from "./status-rule.js";

/**
 * The peer flags that stand for `imei`: those published for it, and those published for any
 * other IMEI bound to a device this IMEI is bound to (docs/LEDGER.md §5, PROTOCOL.md §6.3).
 */
export function devicePeerFlags(store: Store, imei: string): PeerFlag[] {
  const imeis = new Set<string>([imei]);
  for (const did of store.imeis.didsFor(imei)) for (const b of store.imeis.of(did)) imeis.add(b.imei);
  const seen = new Set<string>();
  const out: PeerFlag[] = [];
  for (const i of imeis) {
    for (const f of store.peerFlags(i)) {
      const k = `${f.log}/${f.seq}`;
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(f);
    }
  }
  return out;
}

export function equipmentStatus(store: Store, imei: string): EquipmentStatus | undefined {
  if (store.peerFlags !== NO_PEER_FLAGS || store.db.inTransaction) return statusOf(store, imei);
  return store.statusCache.get(imei);
}

/** The status from the tables (one query, plus the peer flags of a federated registry). */
export function statusOf(store: Store, imei: string): EquipmentStatus | undefined {
  const peers = store.peerFlags === NO_PEER_FLAGS ? [] : devicePeerFlags(store, imei).map((f) => f.kind);
  return statusFrom(store.status.of(imei), peers);
}

export type PeiLookup = { ok: true; imei: string } | { ok: false; reason: string };

/**
 * The IMEI a PEI names (TS 29.571 Pei: imei-<15 digits> | imeisv-<16 digits>).
 * The check digit must be right - except a 0, which TS 23.003 §6.2.1 lets the mobile send in
 * place of the check digit ("shall be set to zero" when transmitted): then the TAC + SNR decide.
 * An IMEISV carries no check digit: its TAC + SNR name the IMEI.
 */
export function imeiOfPei(pei: unknown): PeiLookup {
  let p;
  try {
    p = parsePei(pei);
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  if (p.kind === "imeisv") return { ok: true, imei: imeiFromTacSnr(p.digits.slice(0, 14)) };
  if (isValidImei(p.digits)) return { ok: true, imei: p.digits };
  if (p.digits[14] === "0") return { ok: true, imei: imeiFromTacSnr(p.digits.slice(0, 14)) };
  return { ok: false, reason: "the IMEI check digit is wrong (TS 23.003 Annex B)" };
}
