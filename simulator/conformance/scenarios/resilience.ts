// Operations: the broker or the registry restarting mid-run, and a mass block of many handsets.
import type { Scenario } from "../scenario.js";
import type { Session } from "../session.js";
import { randomBytes } from "node:crypto";
import { decodeResult, deviceTopic, encodeChallenge } from "../../../protocol/messages.js";
import { accepted, checkProof, claim, enrol, expectAllStatus, lockAndConfirm, nextCommand, pendingCommand, result, screenNow, statusNow } from "../flows.js";
import { CONTACT, MESSAGE } from "./lifecycle.js";
import { pool } from "../../pool.js";
import { MAX_BATCH_IMEIS } from "../../../registry/request-codec.js";

const TEXT = { message: MESSAGE, contact: CONTACT };

export const brokerRestart: Scenario = {
  name: "broker-restart",
  title: "Broker restart mid-run",
  reqs: ["REQ-RG-04"],
  description:
    "With two enrolled handsets connected, the broker restarts (every connection drops; a broker without persistence also forgets sessions and retained messages). A stolen report made right away still locks the first handset, and the second reconnects (it answers a challenge again).",
  needs: ["restart-broker"],
  async run(s: Session) {
    const a = await s.handset();
    const b = await s.handset();
    await enrol(s, a);
    await enrol(s, b);
    const owner = s.owner();
    await claim(s, a, owner);
    await s.target.restartBroker!();
    await s.observer.ready();
    s.step("broker restarted");
    await lockAndConfirm(s, a, () => accepted(s, "REQ-RG-04", owner.signer, { type: "report-stolen", imei: a.imei, ...TEXT }), TEXT, "REQ-RG-04");
    s.step("a stolen report made during the reconnects locked the handset");
    // The other handset is back when it answers a challenge again (asked until it does).
    const mark = s.observer.mark;
    await s.waitFor("REQ-RG-04", "the other handset to reconnect and answer a challenge", async () => {
      if (s.observer.of(b.did, "attestation", mark).length > 0) return true;
      await s.observer.publish(deviceTopic(b.did, "challenge"), encodeChallenge({ nonce: new Uint8Array(randomBytes(32)) }));
      await new Promise((r) => setTimeout(r, 100));
      return s.observer.of(b.did, "attestation", mark).length > 0;
    });
    await statusNow(s, "REQ-RG-04", b.imei, "WHITELISTED", "after the broker restart");
  },
};

export const registryRestart: Scenario = {
  name: "registry-restart",
  title: "Registry restart mid-run",
  reqs: ["REQ-RG-03", "REQ-RG-05"],
  description:
    "An enrolled, claimed handset is off when its owner reports it stolen; the registry restarts. Afterwards the IMEI is still BLACKLISTED, the lock is still pending, and when the handset comes back it locks and the restarted registry settles the command it issued before the restart.",
  needs: ["restart-registry"],
  async run(s: Session) {
    const h = await s.handset();
    await enrol(s, h);
    const owner = s.owner();
    await claim(s, h, owner);
    await h.powerOff(false);
    const mark = s.observer.mark;
    await accepted(s, "REQ-LK-01", owner.signer, { type: "report-stolen", imei: h.imei, ...TEXT });
    const cmd = await nextCommand(s, "REQ-RG-05", h, mark, 1);
    await statusNow(s, "REQ-NW-02", h.imei, "BLACKLISTED", "after the report");
    s.check("REQ-RG-05", (await pendingCommand(s, h.imei)) !== undefined, "the registry shows no pending command for the offline handset");
    await s.target.restartRegistry!();
    s.step("registry restarted with a flag and a pending lock");
    await statusNow(s, "REQ-RG-03", h.imei, "BLACKLISTED", "after the registry restart");
    s.check("REQ-RG-03", (await pendingCommand(s, h.imei)) !== undefined, "the pending lock was lost in the restart");
    const back = s.observer.mark;
    await h.powerOn();
    const r = await result(s, "REQ-RG-03", h, cmd.peek.seq, back);
    s.check("REQ-RG-03", r.status === "SUCCEEDED", `the lock's result is ${r.status}`);
    checkProof(s, h, r, cmd.bytes, 2);
    screenNow(s, "REQ-RG-03", h, true, "after reconnecting");
    await s.waitFor("REQ-RG-05", "the restarted registry to settle the command issued before the restart", async () => (await pendingCommand(s, h.imei)) === undefined);
    s.step("handset locked; the restarted registry settled the lock");
  },
};

export const massBlock: Scenario = {
  name: "mass-block",
  title: "Mass block of many handsets at once",
  reqs: ["REQ-LK-08", "REQ-NW-02"],
  description:
    "A fleet of enrolled handsets (--devices, default 20) is flagged by an authority all at once, in signed flag-batch requests of up to 500 IMEIs (PROTOCOL §6.2) sent together. Every handset must lock and report SUCCEEDED and every IMEI must be BLACKLISTED; the time until the last result and each handset's latency are reported.",
  needs: ["authority"],
  async run(s: Session) {
    const n = s.fleetSize;
    const fleet = await s.fleet(n);
    await fleet.powerOn((k) => s.progress(k, n, "booted"));
    // A large fleet may take long, but it may not stand still for this long:
    const stallMs = Math.max(s.timeoutMs, Math.min(10_000, n * 10));
    await expectAllStatus(s, "REQ-LK-08", fleet.members.map((h) => h.imei), "WHITELISTED", stallMs, (k) => s.progress(k, n, "enrolled"));
    s.step(`${n} handsets enrolled`);
    const mark = s.observer.mark;
    const sent = new Map<string, number>();
    const t0 = performance.timeOrigin + performance.now();
    let flagged = 0;
    // PROTOCOL §6.2 flag-batch: the authority's signed lists of up to MAX_BATCH_IMEIS IMEIs, all at once.
    const batches: (typeof fleet.members)[] = [];
    for (let i = 0; i < n; i += MAX_BATCH_IMEIS) batches.push(fleet.members.slice(i, i + MAX_BATCH_IMEIS));
    await Promise.all(batches.map(async (batch) => {
      const at = performance.timeOrigin + performance.now();
      for (const h of batch) sent.set(h.did, at);
      const a = await accepted(s, "REQ-LK-08", s.target.authority!, { type: "flag-batch", imei: "", imeis: batch.map((h) => h.imei), reason: "mass block", ...TEXT });
      const listed = new Set(((a.body.flagged ?? []) as { imei?: string }[]).map((f) => f.imei));
      const missing = batch.filter((h) => !listed.has(h.imei));
      s.check("REQ-LK-08", missing.length === 0, `the flag-batch answer does not list ${missing.length} of its ${batch.length} enrolled IMEIs as flagged (e.g. ${missing[0]?.imei}; unknown: ${JSON.stringify(a.body.unknown)})`);
      flagged += batch.length;
      s.progress(flagged, n, "flagged");
    }));
    const flaggedAt = performance.timeOrigin + performance.now();
    s.step(`${n} flags accepted in ${Math.round(flaggedAt - t0)} ms`);
    const done = new Set<string>();
    const members = new Set(fleet.members.map((h) => h.did));
    let scanned = mark;
    let last = t0;
    for (;;) {
      const seen = s.observer.seen();
      for (; scanned < seen.length; scanned++) {
        const m = seen[scanned]!;
        if (m.kind !== "result" || !members.has(m.did) || done.has(m.did)) continue;
        try {
          if (decodeResult(m.payload).status === "SUCCEEDED") {
            done.add(m.did);
            last = performance.timeOrigin + performance.now();
          }
        } catch {
          // not a result: ignore
        }
      }
      s.progress(done.size, n, "locked");
      if (done.size === n) break;
      const since = performance.timeOrigin + performance.now() - Math.max(last, flaggedAt);
      if (since > stallMs) s.fail("REQ-LK-08", `all ${n} handsets to lock and report SUCCEEDED: ${done.size} did, none more for ${stallMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
    s.metric("mass_lock_ms", last - t0);
    // Handsets in worker threads report their locks a few ms late: wait for the reports.
    const unlocked = () => fleet.members.filter((h) => fleet.lockedAt(h.did) === undefined);
    await s.waitFor("REQ-LK-08", "every handset that reported SUCCEEDED to be locked", () => unlocked().length === 0, s.timeoutMs, () => `${unlocked().length} not locked, e.g. ${unlocked()[0]?.imei}`);
    for (const h of fleet.members) s.metric("lock_latency_ms", fleet.lockedAt(h.did)! - sent.get(h.did)!);
    await pool(fleet.members, 64, (h) => statusNow(s, "REQ-NW-02", h.imei, "BLACKLISTED", "after the mass block"));
    s.step(`all ${n} locked; the last result came ${Math.round(last - t0)} ms after the first flag`);
  },
};
