// Equipment status for networks (3GPP TS 29.511 N5g-eir_EquipmentIdentityCheck, PROTOCOL.md §6.3)
// (device views: device-view.ts).
// An IMEI's status is the worst over every device key bound to it:
// - any active stolen / lost / authority flag: BLACKLISTED;
// - else more than one device key (clone), an active clone / tampered flag, a device whose
//   latest attestation says TAMPERED, or a binding without its device row (inconsistent data):
//   GREYLISTED - never an implicit allow;
// - else WHITELISTED. An IMEI never enrolled has no status (404 ERROR_EQUIPMENT_UNKNOWN).
// Flags other registries of the federation published (docs/LEDGER.md) count like local ones, so
// a device reported stolen at another operator's registry is BLACKLISTED here too, known or not.
// A flag covers the whole device: a peer's flag on any IMEI bound to a device (a dual-IMEI
// handset's IMEI 1, say) counts for every IMEI bound to it (devicePeerFlags).
import { imeiFromTacSnr, isValidImei, parsePei } from "../attestation/index.js";
import type { Store, PeerFlag } from "./store.js";
import { isBlacklistKind, NO_PEER_FLAGS } from "./store.js";

export type EquipmentStatus = "WHITELISTED" | "BLACKLISTED" | "GREYLISTED";

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
  // A federated registry's peer flags depend on its peers' checkpoints too: no cache there.
  if (store.peerFlags !== NO_PEER_FLAGS) return statusOf(store, imei);
  if (store.db.inTransaction) return statusOf(store, imei);
  return store.statusCache.get(imei, () => statusOf(store, imei));
}

function statusOf(store: Store, imei: string): EquipmentStatus | undefined {
  const devices = store.status.of(imei); // one query (store/status.ts)
  const peers = store.peerFlags === NO_PEER_FLAGS ? [] : devicePeerFlags(store, imei);
  if (devices.length === 0 && peers.length === 0) return undefined;
  let black = peers.some((f) => isBlacklistKind(f.kind));
  let grey = devices.length > 1 || peers.some((f) => !isBlacklistKind(f.kind));
  for (const d of devices) {
    if (d.missing || d.tampered) grey = true;
    if (d.blacklisted) black = true;
    if (d.greylisted) grey = true;
  }
  return black ? "BLACKLISTED" : grey ? "GREYLISTED" : "WHITELISTED";
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
