// The equipment-status rule (PROTOCOL.md §6.3), one function for every path that answers: the
// per-IMEI query (equipment-status.ts), the SQLite snapshot (status-snapshot.ts) and the
// PostgreSQL cache (status-cache.ts). An IMEI's status is the worst over every device key bound
// to it and over the peer flags that stand for it:
// - any active stolen / lost / authority flag: BLACKLISTED;
// - else more than one device key (clone), an active clone / tampered flag, a device whose
//   latest attestation says TAMPERED, or a binding without its device row (inconsistent data):
//   GREYLISTED - never an implicit allow;
// - else WHITELISTED. Nothing bound and no peer flag: no status (ERROR_EQUIPMENT_UNKNOWN).
import type { BoundDevice } from "./store/status.js";
import { isBlacklistKind, type FlagKind } from "./store/flags.js";

export type EquipmentStatus = "WHITELISTED" | "BLACKLISTED" | "GREYLISTED";

export function statusFrom(devices: readonly BoundDevice[], peerKinds: readonly FlagKind[] = []): EquipmentStatus | undefined {
  if (devices.length === 0 && peerKinds.length === 0) return undefined;
  let black = peerKinds.some(isBlacklistKind);
  let grey = devices.length > 1 || peerKinds.some((k) => !isBlacklistKind(k));
  for (const d of devices) {
    if (d.missing || d.tampered) grey = true;
    if (d.blacklisted) black = true;
    if (d.greylisted) grey = true;
  }
  return black ? "BLACKLISTED" : grey ? "GREYLISTED" : "WHITELISTED";
}
