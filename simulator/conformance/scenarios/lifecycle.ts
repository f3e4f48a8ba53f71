// The life of a phone: enrolment, theft and lock, theft while offline, a reboot and a factory
// reset while locked, and recovery by its owner.
import { decodeSign1, kidOfPublic, NonceStore, OemRoots, toHex, verifyAttestation } from "../../../attestation/index.js";
import { decodeTokenClaims } from "../../../attestation/eat/claims.js";
import { randomBytes } from "node:crypto";
import { decodeAttestation, decodeChallenge, decodeHello, decodeReceipt, decodeResult, deviceTopic, encodeChallenge, peekCommand } from "../../../protocol/messages.js";
import { equalBytes } from "../../../attestation/bytes.js";
import { sleep } from "../session.js";
import { ROGUE_OEM } from "../keys.js";
import type { Scenario } from "../scenario.js";
import type { Session } from "../session.js";
import type { Handset } from "../target.js";
import {
  accepted, checkProof, claim, enrol, equipmentStatus, expectStatus, lockAndConfirm, nextCommand, receipt, result,
  screenNow, statusNow, staysStatus,
} from "../flows.js";

export const MESSAGE = "Reported stolen. Please call the owner.";
export const CONTACT = "+44 20 7946 0000";
const TEXT = { message: MESSAGE, contact: CONTACT };

/** Enrol, claim and report stolen: the common start of several scenarios. Returns the owner. */
export async function stolen(s: Session, h: Handset, enrolFirst = true) {
  if (enrolFirst) await enrol(s, h);
  const owner = s.owner();
  await claim(s, h, owner);
  s.step("owner claimed the handset with its proof");
  const lock = await lockAndConfirm(s, h, async () => {
    await accepted(s, "REQ-LK-01", owner.signer, { type: "report-stolen", imei: h.imei, ...TEXT });
    // REQ-NW-02: blacklisted as soon as the report is accepted, before the handset answers.
    await statusNow(s, "REQ-NW-02", h.imei, "BLACKLISTED", "right after the stolen report was accepted");
  }, TEXT);
  s.step(`handset locked (seq ${lock.seq}) with a verified SUCCEEDED result`);
  return { owner, lock };
}

export const enrolment: Scenario = {
  name: "enrolment",
  title: "Enrolment with an OEM endorsement",
  reqs: ["REQ-ID-01", "REQ-ID-02", "REQ-AT-01", "REQ-NW-01"],
  description:
    "Networks get 404 ERROR_EQUIPMENT_UNKNOWN for an unknown IMEI and 400 for malformed PEIs. A factory-fresh handset powers on, says hello on the topic of its pseudonymous id (the kid of its key), answers the registry's challenge with an EAT that an independent verifier accepts for exactly that nonce, and becomes WHITELISTED. A handset endorsed by an OEM the registry does not pin never becomes known.",
  async run(s: Session) {
    const unknown = s.nextImei();
    const u = await equipmentStatus(s, unknown);
    s.check("REQ-NW-01", u.status === "UNKNOWN", `an IMEI never seen answers ${u.status}, expected 404 ERROR_EQUIPMENT_UNKNOWN`);
    for (const pei of ["imei-12345", `imei-${unknown.slice(0, 14)}${(Number(unknown[14]) % 9) + 1}`, "imsi-001010123456789"]) {
      const a = await s.http.equipmentStatus(pei);
      s.check("REQ-NW-01", a.status === 400, `the malformed PEI ${pei} answers HTTP ${a.status}, expected 400`);
    }
    s.step("unknown IMEI -> 404, malformed PEIs -> 400");

    const h = await s.handset();
    const mark = s.observer.mark;
    await h.powerOn();
    const hello = await s.observer.waitFor((m) => (m.did === h.did && m.kind === "hello" ? m : undefined), s.timeoutMs, "a hello", mark).catch((e: Error) => s.fail("REQ-ID-01", e.message));
    s.check("REQ-ID-01", h.did === toHex(kidOfPublic(h.devicePublic)), `the device id ${h.did} is not the kid of the device key`);
    s.check("REQ-ID-01", !hello.topic.includes(h.imei.slice(0, 14)), `the topic ${hello.topic} reveals the IMEI`);
    const endorsement = decodeHello(hello.payload).endorsement;
    const challenge = await s.observer.waitFor((m) => (m.did === h.did && m.kind === "challenge" ? m : undefined), s.timeoutMs, "the registry's challenge", mark).catch((e: Error) => s.fail("REQ-AT-02", e.message));
    const nonce = decodeChallenge(challenge.payload).nonce;
    const att = await s.observer.waitFor((m) => (m.did === h.did && m.kind === "attestation" && m.index > challenge.index ? m : undefined), s.timeoutMs, "the attestation", mark).catch((e: Error) => s.fail("REQ-AT-01", e.message));
    const nonces = new NonceStore({ ttlMs: 60_000 });
    nonces.register(nonce);
    const v = verifyAttestation({ token: decodeAttestation(att.payload).token, endorsement, nonce }, { oemRoots: new OemRoots([s.target.oem.publicKey]), nonces });
    if (!v.ok) s.fail("REQ-AT-01", `the attestation does not verify for the challenge's nonce: ${v.error.code}`);
    s.check("REQ-AT-01", v.value.imei === h.imei && v.value.lockState === 0 && !v.value.tampered, `the attestation names IMEI ${v.value.imei}, lock ${v.value.lockState}, tampered ${v.value.tampered}`);
    s.step("hello on the pseudonymous topic; the attestation verifies for the challenge's nonce");
    await expectStatus(s, "REQ-ID-02", h.imei, "WHITELISTED");
    s.step("WHITELISTED");

    const rogue = await s.handset({ oem: ROGUE_OEM });
    const rm = s.observer.mark;
    await rogue.powerOn();
    await s.observer.waitFor((m) => (m.did === rogue.did && m.kind === "hello" ? m : undefined), s.timeoutMs, "the rogue handset's hello", rm).catch((e: Error) => s.fail("REQ-ID-01", e.message));
    await staysStatus(s, "REQ-ID-02", rogue.imei, "UNKNOWN", 500, "a handset endorsed by an OEM the registry does not pin");
    s.step("a handset endorsed by an unpinned OEM stays unknown");
  },
};

export const theftLock: Scenario = {
  name: "theft-lock",
  title: "Theft -> lock",
  reqs: ["REQ-RG-01", "REQ-LK-01", "REQ-LK-02", "REQ-AT-06", "REQ-NW-02"],
  description:
    "The owner claims an enrolled handset with the handset's own proof and reports it stolen with a message and a contact number. The registry answers BLACKLISTED at once; the handset receives the signed command, sends a receipt, locks showing the message and contact, and reports SUCCEEDED with code 2 and a token, bound to that command, proving lock state 2.",
  async run(s: Session) {
    const h = await s.handset();
    const t0 = performance.now();
    await stolen(s, h);
    s.metric("lock_ms", performance.now() - t0);
  },
};

export const offlineTheft: Scenario = {
  name: "offline-theft",
  title: "Theft while offline -> lock on reconnect",
  reqs: ["REQ-LK-03", "REQ-NW-02", "REQ-RG-05", "REQ-LK-10"],
  description:
    "An enrolled, claimed handset loses power (its Last Will announces it offline). The owner reports it stolen: BLACKLISTED at once. When the handset comes back it gets the lock (persistent session, retained desired state or re-send on hello) and locks. While it is off, the suite also publishes a challenge of its own (QoS 1) on its topic: only a persistent session keeps it, and the handset must answer it once back.",
  async run(s: Session) {
    const h = await s.handset();
    await enrol(s, h);
    const owner = s.owner();
    await claim(s, h, owner);
    const mark = s.observer.mark;
    await h.powerOff(false);
    await s.waitFor("REQ-LK-03", "the broker to publish the handset's Last Will (offline)", () =>
      s.observer.of(h.did, "status", mark).some((m) => new TextDecoder().decode(m.payload) === "offline"),
    );
    s.step("handset lost power; its Will says offline");
    // REQ-LK-10: a QoS 1 message published while the handset is offline waits in its session.
    const probe = new Uint8Array(randomBytes(32));
    await s.observer.publish(deviceTopic(h.did, "challenge"), encodeChallenge({ nonce: probe }));
    const cmdMark = s.observer.mark;
    await accepted(s, "REQ-LK-01", owner.signer, { type: "report-stolen", imei: h.imei, ...TEXT });
    await statusNow(s, "REQ-NW-02", h.imei, "BLACKLISTED", "right after the stolen report, handset offline");
    const cmd = await nextCommand(s, "REQ-RG-05", h, cmdMark, 1);
    s.step(`reported stolen while offline: BLACKLISTED, lock seq ${cmd.peek.seq} issued`);
    const back = s.observer.mark;
    const t0 = performance.now();
    await h.powerOn();
    const r = await result(s, "REQ-LK-03", h, cmd.peek.seq, back);
    s.check("REQ-LK-03", r.status === "SUCCEEDED", `the lock's result after reconnecting is ${r.status}`);
    checkProof(s, h, r, cmd.bytes, 2);
    screenNow(s, "REQ-LK-03", h, true, "after reconnecting");
    s.metric("relock_ms", performance.now() - t0);
    s.step("back online: locked, SUCCEEDED");
    await s.observer
      .waitFor((m) => (m.did === h.did && m.kind === "attestation" && equalBytes(attestedNonce(m.payload), probe) ? true : undefined), s.timeoutMs, "the answer to the challenge published while the handset was offline (its persistent session keeps it)", back)
      .catch((e: Error) => s.fail("REQ-LK-10", e.message));
    s.step("the challenge published while it was offline reached it (persistent session)");
  },
};

export const rebootLocked: Scenario = {
  name: "reboot-locked",
  title: "Reboot while locked",
  reqs: ["REQ-LK-04", "REQ-LK-09"],
  description:
    "A locked handset loses power and boots with its radio off: it must be locked before it has any network (the agent enforces the Trusted App's state first). Radio back on: it reconnects, still locked. Its subscription brings back the retained desired state, the lock it already holds: it must send neither receipt nor result for it (only commands on `.../command` are answered).",
  async run(s: Session) {
    const h = await s.handset();
    await stolen(s, h);
    await h.powerOff(false);
    h.setNetwork(false);
    await h.powerOn();
    s.check("REQ-LK-04", !h.online, "the handset is online although its radio is off");
    screenNow(s, "REQ-LK-04", h, true, "booted with no network");
    s.step("rebooted with the radio off: locked");
    const mark = s.observer.mark;
    h.setNetwork(true);
    await s.waitFor("REQ-LK-04", "the handset to reconnect (hello)", () => s.observer.of(h.did, "hello", mark)[0]);
    screenNow(s, "REQ-LK-04", h, true, "after reconnecting");
    await statusNow(s, "REQ-NW-02", h.imei, "BLACKLISTED", "after the reboot");
    // The agent handles what it receives in order: the retained desired state (delivered on its
    // subscription, before its hello) before the registry's challenge. Once the challenge is
    // answered, anything it had to say about the desired state is on the wire.
    await s.observer.waitFor((m) => (m.did === h.did && m.kind === "attestation" ? true : undefined), s.timeoutMs, "the answer to the registry's challenge", mark).catch(() => undefined);
    await sleep(150);
    const commanded = new Set(s.observer.of(h.did, "command", mark).map((m) => seqOf(m.payload)));
    const answers = [...s.observer.of(h.did, "receipt", mark), ...s.observer.of(h.did, "result", mark)].filter((m) => !commanded.has(seqOf(m.payload)));
    s.check("REQ-LK-09", answers.length === 0, `the handset answered the retained desired state it already holds (${answers.map((m) => m.kind).join(", ")} for seq ${answers.map((m) => seqOf(m.payload)).join(", ")}), with no command on .../command`);
    s.step("the retained desired state (already held) got no receipt and no result");
  },
};

export const factoryReset: Scenario = {
  name: "factory-reset",
  title: "Factory reset while locked",
  reqs: ["REQ-LK-05", "REQ-ID-05"],
  description:
    "A locked handset with user data is factory-reset from its recovery menu: the user data is gone, the handset boots locked, reconnects under the same identity and attests lock state 2.",
  async run(s: Session) {
    const h = await s.handset();
    await h.writeUserData("photos/holiday.jpg", new Uint8Array(64).fill(7));
    await stolen(s, h);
    const mark = s.observer.mark;
    await h.factoryReset();
    s.check("REQ-LK-05", (await h.listUserData()).length === 0, "user data survived the factory reset");
    screenNow(s, "REQ-LK-05", h, true, "right after the factory reset");
    s.step("factory reset: user data wiped, still locked");
    const hello = await s.observer.waitFor((m) => (m.did === h.did && m.kind === "hello" ? m : undefined), s.timeoutMs, "a hello after the reset", mark).catch((e: Error) => s.fail("REQ-ID-05", e.message));
    const hl = decodeHello(hello.payload);
    s.check("REQ-LK-05", hl.lock === 2, `after the reset the handset says lock ${hl.lock}`);
    const att = await s.observer.waitFor((m) => (m.did === h.did && m.kind === "attestation" ? m : undefined), s.timeoutMs, "an attestation after the reset", hello.index).catch((e: Error) => s.fail("REQ-ID-05", e.message));
    const claims = checkToken(s, h, decodeAttestation(att.payload).token, hl.endorsement);
    s.check("REQ-ID-05", claims.imei === h.imei && claims.lockState === 2, `after the reset the token says IMEI ${claims.imei}, lock ${claims.lockState}`);
    await statusNow(s, "REQ-NW-02", h.imei, "BLACKLISTED", "after the factory reset");
  },
};

export const ownerFound: Scenario = {
  name: "owner-found",
  title: "Owner found -> unlock",
  reqs: ["REQ-LK-06", "REQ-LK-02", "REQ-AT-06", "REQ-LK-11"],
  description:
    "A stolen, locked handset is found: its owner's signed found report clears the flag and issues an unlock; the handset unlocks, its screen no longer shows the lock message or contact, and it reports SUCCEEDED with code 3 and a proof of lock state 0; the status is WHITELISTED again.",
  async run(s: Session) {
    const h = await s.handset();
    const { owner } = await stolen(s, h);
    const mark = s.observer.mark;
    await accepted(s, "REQ-LK-06", owner.signer, { type: "found", imei: h.imei });
    const cmd = await nextCommand(s, "REQ-LK-06", h, mark, 2);
    await receipt(s, "REQ-LK-02", h, cmd.peek.seq, mark);
    const r = await result(s, "REQ-LK-06", h, cmd.peek.seq, mark);
    s.check("REQ-LK-02", r.status === "SUCCEEDED" && r.code === 3, `the unlock's result is ${r.status} code ${r.code}, expected SUCCEEDED code 3 (LwM2M unlock OK)`);
    checkProof(s, h, r, cmd.bytes, 0);
    screenNow(s, "REQ-LK-06", h, false, "after the unlock's SUCCEEDED result");
    const shown = h.screen().text;
    s.check("REQ-LK-11", shown === "", `the unlocked handset still shows lock-screen text: ${JSON.stringify(shown)}`);
    await expectStatus(s, "REQ-LK-06", h.imei, "WHITELISTED");
    s.step("found: unlocked, WHITELISTED");
  },
};

/** Verifies an attestation token the observer saw against the handset's endorsement (any nonce). */
export function checkToken(s: Session, h: Handset, token: Uint8Array, endorsement: Uint8Array) {
  const nonces = new NonceStore({ ttlMs: 60_000 });
  // The nonce the token claims: freshness is the registry's business here, identity is ours.
  const claimed = tokenNonce(token);
  nonces.register(claimed);
  const v = verifyAttestation({ token, endorsement, nonce: claimed }, { oemRoots: new OemRoots([s.target.oem.publicKey]), nonces });
  if (!v.ok) s.fail("REQ-AT-01", `a token of ${h.did} does not verify: ${v.error.code}`);
  return v.value;
}

/** The eat_nonce of an attestation message's token (empty when it is not one). */
function attestedNonce(payload: Uint8Array): Uint8Array {
  try {
    return tokenNonce(decodeAttestation(payload).token);
  } catch {
    return new Uint8Array(0);
  }
}

/** The seq of a command, receipt or result payload (-1 when unreadable). */
function seqOf(payload: Uint8Array): number {
  for (const read of [(p: Uint8Array) => peekCommand(p).seq, (p: Uint8Array) => decodeReceipt(p).seq, (p: Uint8Array) => decodeResult(p).seq]) {
    try {
      return read(payload);
    } catch {
      // not this kind
    }
  }
  return -1;
}

function tokenNonce(token: Uint8Array): Uint8Array {
  try {
    return decodeTokenClaims(decodeSign1(token).payload).nonce;
  } catch {
    return new Uint8Array(32); // not a token: the verification below says why
  }
}
