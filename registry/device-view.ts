// Who sees what of a device (PROTOCOL.md §6.2 "Device views", docs/PORTAL.md §5):
// - anyone: the public check, whether an IMEI is flagged (BLACKLISTED) and nothing else - no
//   owner, no presence, no lock state, not even whether the registry knows the IMEI;
// - its owner and pinned authorities (a signed "view" request, or the owner's portal session):
//   the whole view - status, flags, lock state, presence hints, last attested contact, the
//   pending command and the timeline of commands with readable results.
import type { Store, Flag, CommandRow } from "./store.js";
import { devicePeerFlags, equipmentStatus } from "./equipment-status.js";
import { openCommand, ACTION_NAMES } from "./commands.js";
import { describeTaError, resultAlert } from "./result-alerts.js";

/** The public check: `flagged` is true exactly when the equipment status is BLACKLISTED (§6.3). */
export function publicCheck(store: Store, imei: string): { imei: string; flagged: boolean } {
  return { imei, flagged: equipmentStatus(store, imei) === "BLACKLISTED" };
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function flagView(f: Flag): Record<string, unknown> {
  return {
    kind: f.kind,
    raisedBy: f.raisedBy.role,
    at: iso(f.at),
    // Owners' and authorities' free text stays with them; the registry's own reasons are shown.
    ...(f.raisedBy.role === "registry" ? { reason: f.reason } : {}),
  };
}

/** The TA's refusal codes (docs/ABI.md "Codes (-30 .. -38)") in words, for the timeline. */
const TA_REFUSALS: Readonly<Record<number, string>> = {
  [-30]: "the handset could not read the command (malformed)",
  [-31]: "the command's algorithm is not EdDSA",
  [-32]: "unknown action",
  [-33]: "the lock-screen message is too long for the handset",
  [-34]: "the contact number is too long for the handset",
  [-35]: "the command is not signed by a registry the handset trusts",
  [-36]: "the command names another IMEI",
  [-37]: "the command is for another device key",
  [-38]: "the handset already applied a newer command",
};

/** One command of the timeline: what was asked, when it was sent, received, and how it ended. */
export function commandView(c: CommandRow): Record<string, unknown> {
  const refusal = c.status === "REJECTED" && c.resultError !== null
    ? TA_REFUSALS[c.resultError] ?? `refused by the handset (code ${c.resultError})`
    : undefined;
  return {
    seq: c.seq,
    action: ACTION_NAMES[c.action],
    status: c.status,
    issuedAt: iso(c.createdAt),
    sentAt: iso(c.sentAt),
    receivedAt: iso(c.receiptAt),
    resultAt: iso(c.resultAt),
    ...(c.message !== null ? { message: c.message } : {}),
    ...(c.contact !== null ? { contact: c.contact } : {}),
    ...(refusal ? { reason: refusal, error: c.resultError } : {}),
  };
}

/** Commands kept in a view's timeline (newest first). */
export const TIMELINE_LENGTH = 20;

/**
 * The whole view of an IMEI for its owner or an authority: the devices bound to it (`dids`
 * narrows them to the ones a requester owns). No keys, no dids. Undefined for an unknown IMEI.
 */
export function fullDeviceView(store: Store, imei: string, dids?: readonly string[]): Record<string, unknown> | undefined {
  const status = equipmentStatus(store, imei);
  if (status === undefined) return undefined;
  const devices = (dids ?? store.imeis.didsFor(imei)).map((did) => {
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
      imeis: store.imeis.of(did).map((b) => b.imei),
      flags: store.flags.active(did).map(flagView),
      pendingCommand: pending ? { seq: pending.seq, action: ACTION_NAMES[pending.action], status: pending.status, issuedAt: iso(pending.createdAt) } : null,
      timeline: store.commands.history(did).slice(-TIMELINE_LENGTH).reverse().map(commandView),
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
