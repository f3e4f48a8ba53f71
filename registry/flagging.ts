// Raising and clearing flags, with their events, inside the caller's transaction.
// Who raised a flag is recorded as a Party; only that party may clear it (PROTOCOL.md §6.2),
// except that an owner's `found` clears the owner's own stolen/lost flags, and a pinned
// authority settles the suspicions the registry raised itself (clone, tampered).
import { toHex } from "../attestation/index.js";
import type { Flag, FlagKind, Party } from "./store.js";
import type { Context } from "./context.js";

export const REGISTRY_PARTY: Party = { role: "registry", kid: null };

/** 'owner:<kid hex>', 'authority:<kid hex>' or 'registry' (the events' party column). */
export function partyName(p: Party): string {
  return p.kid ? `${p.role}:${toHex(p.kid)}` : p.role;
}

export function sameParty(a: Party, b: Party): boolean {
  if (a.role !== b.role) return false;
  if (a.kid === null || b.kid === null) return a.kid === b.kid;
  return toHex(a.kid) === toHex(b.kid);
}

/**
 * Raises a flag unless the same party already has an active flag of this kind on the device
 * (idempotent); returns the flag raised, or the standing one.
 */
export function raiseFlag(ctx: Context, did: string, imei: string | null, kind: FlagKind, by: Party, reason: string): { flag: Flag; raised: boolean } {
  const standing = ctx.store.flags.active(did).find((f) => f.kind === kind && sameParty(f.raisedBy, by));
  if (standing) return { flag: standing, raised: false };
  const at = ctx.clock.now();
  const flag = ctx.store.flags.raise(did, imei, kind, by, reason, at);
  ctx.store.events.append({ at, type: "flag-raised", did, imei, party: partyName(by), detail: { flag: flag.id, kind, reason } });
  ctx.ledger?.flagRaised(flag); // the signed ledger entry commits with the flag (docs/LEDGER.md)
  ctx.log.log(kind === "clone" || kind === "tampered" ? "warn" : "info", "flag.raised", { did, imei, kind, by: partyName(by), reason });
  return { flag, raised: true };
}

export function clearFlag(ctx: Context, flag: Flag, by: Party, imei: string | null): void {
  const at = ctx.clock.now();
  if (!ctx.store.flags.clear(flag.id, by, at)) return;
  ctx.store.events.append({ at, type: "flag-cleared", did: flag.did, imei, party: partyName(by), detail: { flag: flag.id, kind: flag.kind } });
  ctx.ledger?.flagCleared(flag, by);
  ctx.log.log("info", "flag.cleared", { did: flag.did, kind: flag.kind, by: partyName(by) });
}
