// Presence and liveness (PROTOCOL.md §3 status, §4.4 heartbeat). Both are hints: they never
// change a flag or the attested state. A heartbeat that disagrees with what the device last
// attested, or comes from a device with no verified attestation since this worker started
// (devices.last_attested, written by whichever worker verified it), earns a fresh challenge (at
// most one per TTL, judged on the shared challenges table), so the next verified attestation
// settles the question; an open command is re-sent on every heartbeat.
import { decodeHeartbeat, deviceTopic, encodeChallenge } from "../protocol/messages.js";
import type { Context, Publication } from "./context.js";
import { resendOpen } from "./commands.js";
import { admitted } from "./enrolment.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

export async function handleHeartbeat(ctx: Context, did: string, payload: Uint8Array): Promise<void> {
  const hb = decodeHeartbeat(payload);
  if (!admitted(ctx, did, "heartbeat")) return;
  const dev = ctx.store.devices.get(did);
  if (!dev) return void ctx.log.log("debug", "heartbeat.unknown-device", { did });
  const at = ctx.clock.now();
  const touched = ctx.gc.later(() => ctx.store.devices.touch(did, at));
  const out: Publication[] = resendOpen(ctx, did);
  const disagrees = hb.tampered !== dev.tampered || hb.lock !== dev.lockState || hb.seq !== dev.lastSeq;
  if ((disagrees || dev.lastAttested < ctx.startedAt) && !ctx.challenges.hasFresh(did)) {
    // The endorsement for verifying is the enrolled one (no hello needed). Sent once committed,
    // so whichever worker receives the answer finds the challenge. Freshness is judged again
    // inside the transaction: heartbeats read together all see "none fresh" before the first
    // commits, and only the first may mint one (PROTOCOL.md §6.4).
    const nonce = await ctx.gc.run(() => (ctx.challenges.hasFresh(did) ? undefined : ctx.challenges.issue(did)));
    if (nonce) out.push({ topic: deviceTopic(did, "challenge"), payload: encodeChallenge({ nonce }), retain: false });
  }
  ctx.publish(out);
  await touched;
}

/** `online` / `offline` (the Last Will). Anything else is dropped. */
export async function handleStatus(ctx: Context, did: string, payload: Uint8Array): Promise<void> {
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    return void ctx.log.log("warn", "status.refused", { did, reason: "not UTF-8" });
  }
  if (text !== "online" && text !== "offline") return void ctx.log.log("warn", "status.refused", { did, reason: "not online/offline" });
  const at = ctx.clock.now();
  await ctx.gc.later(() => {
    if (ctx.store.devices.get(did)) ctx.store.devices.setOnline(did, text === "online", at);
  });
}
