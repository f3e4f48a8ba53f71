// Equipment status for networks (3GPP TS 29.511 N5g-eir_EquipmentIdentityCheck, PROTOCOL.md §6.3)
// and the public device view (§6.2 GET /antitheft/v1/devices/imei-<15>).
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
import type { Store, Flag, PeerFlag } from "./store.js";
import { isBlacklistKind, NO_PEER_FLAGS } from "./store.js";
import { openCommand, ACTION_NAMES } from "./commands.js";
import { describeTaError, resultAlert } from "./result-alerts.js";

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

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function publicFlag(f: Flag): Record<string, unknown> {
  return {
    kind: f.kind,
    raisedBy: f.raisedBy.role,
    at: iso(f.at),
    // Owners' and authorities' free text stays private; the registry's own reasons are public.
    ...(f.raisedBy.role === "registry" ? { reason: f.reason } : {}),
  };
}

/** §6.2 public view of an IMEI: status, flags, pending command, last attested, presence hints. No keys, no dids. */
export function publicDeviceView(store: Store, imei: string): Record<string, unknown> | undefined {
  const status = equipmentStatus(store, imei);
  if (status === undefined) return undefined;
  const devices = store.imeis.didsFor(imei).map((did) => {
    const d = store.devices.get(did);
    if (!d) return { consistent: false };
    const pending = openCommand(store, did);
    return {
      enrolledAt: iso(d.enrolledAt),
      // Only a verified token (an attestation, a result's proof) moves lastAttested.
      lastAttested: iso(d.lastAttested),
      // Retained status, hello and heartbeat are unauthenticated hints (PROTOCOL.md §3, §4.4):
      // anyone may publish them, so they are never shown as proof that a phone is online.
      presence: { online: d.online, lastSeen: iso(d.lastSeen), verified: false },
      lockState: d.lockState,
      tampered: d.tampered,
      claimed: store.owners.current(did) !== undefined,
      flags: store.flags.active(did).map(publicFlag),
      pendingCommand: pending ? { seq: pending.seq, action: ACTION_NAMES[pending.action], status: pending.status, issuedAt: iso(pending.createdAt) } : null,
      ...lastResultView(store, did),
    };
  });
  const peers = devicePeerFlags(store, imei).map((f) => ({ kind: f.kind, registry: f.registry, log: f.log, at: iso(f.at) }));
  return { imei, status, devices, ...(peers.length > 0 ? { peerFlags: peers } : {}) };
}

/**
 * The newest command's verified outcome, with the TA's reason for a refusal (name and text, not
 * only the number), and the alerts it raises (result-alerts.ts): what an owner needs to see why
 * a lock did not happen.
 */
function lastResultView(store: Store, did: string): { lastResult: Record<string, unknown> | null; alerts: Record<string, unknown>[] } {
  const c = store.commands.latest(did);
  if (!c || c.resultAt === null || !["SUCCEEDED", "FAILED", "REJECTED"].includes(c.status)) return { lastResult: null, alerts: [] };
  const error = c.resultError !== null ? describeTaError(c.resultError) : undefined;
  const alert = resultAlert(c);
  return {
    lastResult: { seq: c.seq, action: ACTION_NAMES[c.action], status: c.status, at: iso(c.resultAt), ...(error ? { error } : {}) },
    alerts: alert ? [{ kind: alert, seq: c.seq, reason: "the handset refuses this registry's command signature: it was provisioned with another registry key, so it cannot be locked from here" }] : [],
  };
}
