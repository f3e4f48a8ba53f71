// Attacks through the protocol: forged, replayed and misdirected commands, forged results of a
// job, and forged, replayed and unauthorised owner and authority requests. The observer plays
// the attacker: it can read and publish on any topic.
import { randomBytes } from "node:crypto";
import { createSign1, encodeDeterministic, generateEd25519, kidOfPublic, nodeSigner, ueidFromImei, fromHex } from "../../../attestation/index.js";
import { RESULT_CODE, commandNonce, decodeAttestation, deviceTopic, encodeChallenge, encodeResult, type Result } from "../../../protocol/messages.js";
import { buildRequest } from "../../../registry/request-codec.js";
import type { Scenario } from "../scenario.js";
import { sleep, type Session } from "../session.js";
import type { Handset } from "../target.js";
import {
  accepted, checkProof, checkRefusal, claim, claimRequest, enrol, expectStatus, lockAndConfirm, nextCommand, pendingCommand, refused, result, screenNow, staysStatus, statusNow,
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
  reqs: ["REQ-SEC-01", "REQ-SEC-02", "REQ-SEC-03", "REQ-LK-07", "REQ-AT-07"],
  description:
    "A handset is locked and then unlocked by its owner, the attacker recording both commands. The attacker then publishes (1) a lock signed by a key the handset was not provisioned with, (2) the recorded lock again (an old sequence number) and (3) the recorded lock on another handset's topic. Each must come back REJECTED, with the TA's error code and a token bound to the refused bytes showing the unchanged state, with the handset still unlocked. (4) The last accepted command delivered again (a QoS 1 duplicate) is re-reported SUCCEEDED and not applied again.",
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
    checkRefusal(s, a, r1, forged, 0, unlock.peek.seq);
    s.step("forged lock: REJECTED, still unlocked");

    // (2) the recorded lock replayed: sequence below the last accepted one
    const r2 = await inject(s, "REQ-SEC-02", a, lock.bytes, lock.seq);
    s.check("REQ-SEC-02", r2.status === "REJECTED", `a replayed lock came back ${r2.status}, expected REJECTED`);
    screenNow(s, "REQ-SEC-02", a, false, "after a replayed lock");
    checkRefusal(s, a, r2, lock.bytes, 0, unlock.peek.seq);
    s.step("replayed lock: REJECTED, still unlocked");

    // (3) a's lock on b's topic
    const r3 = await inject(s, "REQ-SEC-03", b, lock.bytes, lock.seq);
    s.check("REQ-SEC-03", r3.status === "REJECTED", `another handset's lock came back ${r3.status}, expected REJECTED`);
    screenNow(s, "REQ-SEC-03", b, false, "after another handset's lock");
    checkRefusal(s, b, r3, lock.bytes, 0, 0);
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
    "A stranger tries to claim a handset with the claim code and proof issued to someone else's key; a stolen report with a broken signature, one signed by a stranger and one with a stale timestamp are sent; the owner's own accepted stolen report is replayed after the phone was found. Every one is refused and the status does not move. Then an authority flags the phone: the owner's found report cannot clear it, a stranger's clear is refused, the authority's clear is accepted.",
  needs: ["authority"],
  async run(s: Session) {
    const h = await s.handset();
    await enrol(s, h);
    const owner = s.owner();
    const stranger = s.owner();
    const theirs = await claimRequest(s, h, owner); // the owner's code and proof, never sent
    await refused(s, "REQ-RG-01", stranger.signer, { ...theirs, key: stranger.coseKey }, "a claim with a code and proof issued to another key");
    await claim(s, h, owner);

    const good = buildRequest(owner.signer, { type: "report-stolen", imei: h.imei, ...TEXT }, kidOfPublic(s.target.registryPublic));
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

/** ERR_CMD_SIGNATURE (docs/ABI.md): the refusal a forged REJECTED claims the Trusted App made. */
const ERR_CMD_SIGNATURE = -35;

export const forgedResults: Scenario = {
  name: "forged-results",
  title: "Forged job results",
  reqs: ["REQ-SEC-08", "REQ-RG-05", "REQ-AT-06"],
  description:
    "An enrolled, claimed handset is off when its owner reports it stolen, so its lock stays pending. The attacker, who reads the command on the wire (its sequence number and its bytes), publishes results for it on the handset's result topic: (1) REJECTED without a token, (2) SUCCEEDED without a token, (3) SUCCEEDED and (4) REJECTED with a token of another enrolled handset - a locked one, attesting to exactly this command's nonce (SHA-512 of the command bytes), so only the signing key is wrong - and (5) REJECTED with garbage for a token. After each, once the registry has answered a later hello (so it has read the forgery), its public device view must still show the lock pending. Back on, the handset locks and its own signed SUCCEEDED settles the job.",
  async run(s: Session) {
    const h = await s.handset();
    const other = await s.handset();
    const m0 = s.observer.mark;
    await enrol(s, h);
    const hello = s.observer.of(h.did, "hello", m0)[0]!.payload;
    const owner = s.owner();
    await claim(s, h, owner);
    // The other handset is locked, so its token shows what a genuine proof of a lock shows
    // (lock state 2, its last sequence number at its lock's): only the signing key differs.
    await stolen(s, other);

    const m1 = s.observer.mark;
    await h.powerOff(false);
    await s.waitFor("REQ-LK-03", "the broker to publish the handset's Last Will (offline)", () =>
      s.observer.of(h.did, "status", m1).some((m) => new TextDecoder().decode(m.payload) === "offline"),
    );
    const m2 = s.observer.mark;
    await accepted(s, "REQ-LK-01", owner.signer, { type: "report-stolen", imei: h.imei, ...TEXT });
    await statusNow(s, "REQ-NW-02", h.imei, "BLACKLISTED", "right after the stolen report, handset offline");
    // The attacker reads the command like anyone subscribed to the device's topics.
    const cmd = await nextCommand(s, "REQ-RG-05", h, m2, 1);
    const seq = cmd.peek.seq;
    s.check("REQ-RG-05", (await pendingCommand(s, h.imei)) !== undefined, "the registry shows no pending command for the offline handset");
    s.step(`handset off, reported stolen: lock seq ${seq} pending`);

    // Another enrolled handset's token for exactly this command's nonce (PROTOCOL §4.6): the
    // attacker challenges it with that nonce, as the registry would challenge it.
    const m3 = s.observer.mark;
    await s.observer.publish(deviceTopic(other.did, "challenge"), encodeChallenge({ nonce: commandNonce(cmd.bytes) }));
    const answer = await s.waitFor("REQ-AT-01", "the other handset's answer to a challenge", () => s.observer.of(other.did, "attestation", m3)[0]);
    const foreign = decodeAttestation(answer.payload).token;

    const locked = RESULT_CODE.FULL_LOCK_OK;
    const failed = RESULT_CODE.FULL_LOCK_FAILED;
    const forgeries: [string, Result][] = [
      ["a REJECTED without a token", { seq, status: "REJECTED", code: failed, error: ERR_CMD_SIGNATURE }],
      ["a SUCCEEDED without a token", { seq, status: "SUCCEEDED", code: locked }],
      ["a SUCCEEDED with another handset's token for this command", { seq, status: "SUCCEEDED", code: locked, token: foreign }],
      ["a REJECTED with another handset's token for this command", { seq, status: "REJECTED", code: failed, error: ERR_CMD_SIGNATURE, token: foreign }],
      ["a REJECTED with garbage for a token", { seq, status: "REJECTED", code: failed, error: ERR_CMD_SIGNATURE, token: new Uint8Array(randomBytes(96)) }],
    ];
    for (const [what, forged] of forgeries) {
      await s.observer.publish(deviceTopic(h.did, "result"), encodeResult(forged));
      // Barrier: the registry answers a later hello (the handset's own, replayed) with a
      // challenge only after it has read what came before it on the wire.
      const m = s.observer.mark;
      await s.observer.publish(deviceTopic(h.did, "hello"), hello);
      await s.waitFor("REQ-SEC-08", `the registry's challenge answering a hello sent after ${what}`, () => s.observer.of(h.did, "challenge", m)[0]);
      // REQ-SEC-08: the job did not end; the lock is still open (and so still re-sent).
      const end = performance.now() + 50;
      do {
        s.check("REQ-SEC-08", (await pendingCommand(s, h.imei)) !== undefined, `after ${what} on its result topic, the registry shows no pending command: the lock (seq ${seq}) was settled by a result the handset never signed`);
        await sleep(10);
      } while (performance.now() < end);
      s.step(`${what}: the lock is still pending`);
    }
    await statusNow(s, "REQ-NW-02", h.imei, "BLACKLISTED", "after the forged results");

    // Back on, the handset gets the lock that stayed open, and its own proof settles it.
    const back = s.observer.mark;
    await h.powerOn();
    const r = await result(s, "REQ-SEC-08", h, seq, back);
    s.check("REQ-SEC-08", r.status === "SUCCEEDED" && r.code === locked, `the lock's result after reconnecting is ${r.status} code ${r.code}, expected SUCCEEDED code 2`);
    checkProof(s, h, r, cmd.bytes, 2);
    screenNow(s, "REQ-SEC-08", h, true, "after reconnecting");
    await s.waitFor("REQ-RG-05", "the registry to settle the lock on the handset's signed SUCCEEDED", async () => (await pendingCommand(s, h.imei)) === undefined);
    s.step("back on: locked, and the handset's signed SUCCEEDED settled the job");
  },
};
