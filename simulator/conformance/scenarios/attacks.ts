// Attacks through the protocol: forged, replayed and misdirected commands, and forged, replayed
// and unauthorised owner and authority requests. The observer plays the attacker: it can read
// and publish on any topic.
import { createSign1, encodeDeterministic, generateEd25519, kidOfPublic, nodeSigner, ueidFromImei, fromHex } from "../../../attestation/index.js";
import { deviceTopic } from "../../../protocol/messages.js";
import { buildRequest } from "../../../registry/request-codec.js";
import type { Scenario } from "../scenario.js";
import type { Session } from "../session.js";
import type { Handset } from "../target.js";
import {
  accepted, claim, enrol, expectStatus, lockAndConfirm, nextCommand, refused, result, screenNow, staysStatus,
} from "../flows.js";
import { CONTACT, MESSAGE, stolen } from "./lifecycle.js";

const TEXT = { message: MESSAGE, contact: CONTACT };

/** Publishes `bytes` as a command to `h` and returns its result (which must come, PROTOCOL §4.6). */
async function inject(s: Session, req: string, h: Handset, bytes: Uint8Array, seq: number) {
  const mark = s.observer.mark;
  await s.observer.publish(deviceTopic(h.did, "command"), bytes);
  return result(s, req, h, seq, mark);
}

export const forgedCommands: Scenario = {
  name: "forged-commands",
  title: "Forged, replayed and misdirected commands",
  reqs: ["REQ-SEC-01", "REQ-SEC-02", "REQ-SEC-03", "REQ-LK-07"],
  description:
    "A handset is locked and then unlocked by its owner, the attacker recording both commands. The attacker then publishes (1) a lock signed by a key the handset was not provisioned with, (2) the recorded lock again (an old sequence number) and (3) the recorded lock on another handset's topic. Each must come back REJECTED with the handset still unlocked. (4) The last accepted command delivered again (a QoS 1 duplicate) is re-reported SUCCEEDED and not applied again.",
  async run(s: Session) {
    const a = await s.handset();
    const b = await s.handset();
    await enrol(s, b);
    const { owner, lock } = await stolen(s, a);
    const mark = s.observer.mark;
    await accepted(s, "REQ-LK-06", owner.signer, { type: "found", imei: a.imei });
    const unlock = await nextCommand(s, "REQ-LK-06", a, mark, 2);
    const ur = await result(s, "REQ-LK-06", a, unlock.peek.seq, mark);
    s.check("REQ-LK-06", ur.status === "SUCCEEDED", `the unlock's result is ${ur.status}`);
    screenNow(s, "REQ-LK-06", a, false, "after the owner's found report");
    s.step(`recorded lock seq ${lock.seq} and unlock seq ${unlock.peek.seq}; handset unlocked`);

    // (1) a lock signed by a key the TA does not trust, otherwise perfect
    const forger = nodeSigner(generateEd25519().privateKey);
    const seq = unlock.peek.seq + 1;
    const forged = createSign1(
      encodeDeterministic(new Map<number, unknown>([[1, ueidFromImei(a.imei)], [2, fromHex(a.did)], [3, seq], [4, 1], [5, MESSAGE], [6, CONTACT]])),
      forger,
      { cwtTag: false, kid: kidOfPublic(forger.publicKey) },
    );
    const r1 = await inject(s, "REQ-SEC-01", a, forged, seq);
    s.check("REQ-SEC-01", r1.status === "REJECTED", `a forged lock came back ${r1.status}, expected REJECTED`);
    screenNow(s, "REQ-SEC-01", a, false, "after a forged lock");
    s.step("forged lock: REJECTED, still unlocked");

    // (2) the recorded lock replayed: sequence below the last accepted one
    const r2 = await inject(s, "REQ-SEC-02", a, lock.bytes, lock.seq);
    s.check("REQ-SEC-02", r2.status === "REJECTED", `a replayed lock came back ${r2.status}, expected REJECTED`);
    screenNow(s, "REQ-SEC-02", a, false, "after a replayed lock");
    s.step("replayed lock: REJECTED, still unlocked");

    // (3) a's lock on b's topic
    const r3 = await inject(s, "REQ-SEC-03", b, lock.bytes, lock.seq);
    s.check("REQ-SEC-03", r3.status === "REJECTED", `another handset's lock came back ${r3.status}, expected REJECTED`);
    screenNow(s, "REQ-SEC-03", b, false, "after another handset's lock");
    s.step("misdirected lock: REJECTED, not locked");

    // (4) the last accepted command again: re-reported, not re-applied
    const actions = a.enforcement().length;
    const r4 = await inject(s, "REQ-LK-07", a, unlock.bytes, unlock.peek.seq);
    s.check("REQ-LK-07", r4.status === "SUCCEEDED" && r4.code === 3, `a duplicate of the accepted unlock came back ${r4.status} code ${r4.code}, expected SUCCEEDED 3`);
    s.check("REQ-LK-07", a.enforcement().length === actions, "a duplicate delivery was enforced again");
    screenNow(s, "REQ-LK-07", a, false, "after a duplicate unlock");
    await staysStatus(s, "REQ-LK-06", a.imei, "WHITELISTED", 100, "after the attacks");
  },
};

export const forgedRequests: Scenario = {
  name: "forged-requests",
  title: "Forged, replayed and unauthorised requests",
  reqs: ["REQ-SEC-06", "REQ-RG-01", "REQ-RG-02"],
  description:
    "A stranger tries to claim a handset with a proof made for someone else's key; a stolen report with a broken signature, one signed by a stranger and one with a stale timestamp are sent; the owner's own accepted stolen report is replayed after the phone was found. Every one is refused and the status does not move. Then an authority flags the phone: the owner's found report cannot clear it, a stranger's clear is refused, the authority's clear is accepted.",
  needs: ["authority"],
  async run(s: Session) {
    const h = await s.handset();
    await enrol(s, h);
    const owner = s.owner();
    const stranger = s.owner();
    await refused(s, "REQ-RG-01", stranger.signer, { type: "claim", imei: h.imei, key: stranger.coseKey, proof: await h.claimProof(owner.publicKey) }, "a claim with a proof made for another key");
    await claim(s, h, owner);

    const good = buildRequest(owner.signer, { type: "report-stolen", imei: h.imei, ...TEXT });
    const broken = new Uint8Array(good);
    broken[broken.length - 1]! ^= 0x01; // the last signature byte
    await refused(s, "REQ-SEC-06", owner.signer, broken, "a stolen report with a broken signature");
    await refused(s, "REQ-SEC-06", stranger.signer, { type: "report-stolen", imei: h.imei }, "a stolen report signed by a stranger");
    await refused(s, "REQ-SEC-06", owner.signer, { type: "report-stolen", imei: h.imei, ts: Math.floor(Date.now() / 1000) - 3600 }, "a stolen report an hour old");
    await staysStatus(s, "REQ-SEC-06", h.imei, "WHITELISTED", 50, "after refused requests");
    s.step("broken, foreign and stale reports refused");

    const lock = await lockAndConfirm(s, h, async () => {
      const a = await s.http.send(good);
      s.check("REQ-LK-01", a.status === 200, `the owner's stolen report was refused: HTTP ${a.status} ${JSON.stringify(a.body)}`);
    }, TEXT);
    const m = s.observer.mark;
    await accepted(s, "REQ-LK-06", owner.signer, { type: "found", imei: h.imei });
    const unlock = await nextCommand(s, "REQ-LK-06", h, m, 2);
    await result(s, "REQ-LK-06", h, unlock.peek.seq, m);
    await expectStatus(s, "REQ-LK-06", h.imei, "WHITELISTED");
    await refused(s, "REQ-SEC-06", owner.signer, good, "the owner's stolen report replayed");
    await staysStatus(s, "REQ-SEC-06", h.imei, "WHITELISTED", 50, "after a replayed report");
    s.step(`report (lock ${lock.seq}) and found; the replayed report is refused`);

    const authority = s.target.authority!;
    await accepted(s, "REQ-RG-02", authority, { type: "flag", imei: h.imei, reason: "police case 42" });
    await expectStatus(s, "REQ-RG-02", h.imei, "BLACKLISTED");
    await refused(s, "REQ-RG-02", owner.signer, { type: "found", imei: h.imei }, "the owner's found report against an authority's flag");
    await refused(s, "REQ-RG-02", stranger.signer, { type: "clear", imei: h.imei }, "a stranger's clear");
    await staysStatus(s, "REQ-RG-02", h.imei, "BLACKLISTED", 50, "after refused clears");
    await accepted(s, "REQ-RG-02", authority, { type: "clear", imei: h.imei });
    await expectStatus(s, "REQ-RG-02", h.imei, "WHITELISTED");
    s.step("the authority's flag: only the authority cleared it");
  },
};
