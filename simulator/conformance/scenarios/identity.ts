// Identity and integrity: clones, second endorsements, tampered agents, and attacks on the sealed
// state in flash.
import { createHash } from "node:crypto";
import { createEndorsement, OemRoots, verifyEndorsement } from "../../../attestation/index.js";
import { decodeAttestation, decodeHello } from "../../../protocol/messages.js";
import type { Scenario } from "../scenario.js";
import type { Session } from "../session.js";
import type { Handset } from "../target.js";
import { claimRequest, enrol, expectStatus, refused, screenNow } from "../flows.js";
import { checkToken, stolen } from "./lifecycle.js";

/** A measurement no registry accepts (a repackaged agent). */
export const TAMPERED_MEASUREMENT = new Uint8Array(createHash("sha256").update("antitheft conformance: a tampered agent").digest());

export const clone: Scenario = {
  name: "clone",
  title: "Clone: the same IMEI with a different key",
  reqs: ["REQ-ID-03", "REQ-NW-03", "REQ-RG-01"],
  description:
    "A second handset is provisioned with the IMEI of an enrolled one (a cloner with a leaked OEM key: a valid endorsement, a different device key). When it enrols the IMEI turns GREYLISTED, and an owner claim on it is refused even with the genuine handset's proof.",
  async run(s: Session) {
    const a = await s.handset();
    await enrol(s, a);
    const b = await s.handset({ imei: a.imei });
    s.check("REQ-ID-03", b.did !== a.did, "the clone got the same device id: it is not a different key");
    await b.powerOn();
    await expectStatus(s, "REQ-ID-03", a.imei, "GREYLISTED");
    s.step("second key for the IMEI: GREYLISTED");
    const owner = s.owner();
    await refused(s, "REQ-ID-03", owner.signer, await claimRequest(s, a, owner), "a claim on a clone-suspect IMEI");
    s.step("claim refused");
  },
};

export const secondEndorsement: Scenario = {
  name: "second-endorsement",
  title: "A second endorsement for an IMEI",
  reqs: ["REQ-ID-04", "REQ-NW-03"],
  description:
    "An enrolled handset later presents a different, validly signed endorsement for the same key and IMEI (the OEM key signed twice: a leaked key or a rogue factory line). The registry must treat the IMEI as a clone suspect: GREYLISTED.",
  needs: ["storage-attacks"],
  async run(s: Session) {
    const h = await s.handset();
    const mark = s.observer.mark;
    await enrol(s, h);
    const hello = s.observer.of(h.did, "hello", mark)[0]!;
    const first = verifyEndorsement(decodeHello(hello.payload).endorsement, new OemRoots([s.target.oem.publicKey]));
    if (!first.ok) s.fail("REQ-ID-04", `the handset's endorsement does not verify: ${first.error.code}`);
    const c = first.value.claims;
    const second = createEndorsement({
      oem: s.target.oem,
      issuer: "second factory line",
      issuedAt: c.iat + 86_400,
      deviceKey: c.deviceKey,
      imei: c.imei,
      ...(c.imei2 !== undefined ? { imei2: c.imei2 } : {}),
      oemid: c.oemid,
      hwmodel: c.hwmodel,
    });
    await h.powerOff(true);
    await h.storage!.writeEndorsement(second);
    await h.powerOn();
    s.step("the handset now presents a second endorsement");
    await expectStatus(s, "REQ-ID-04", h.imei, "GREYLISTED");
  },
};

export const tamperedMeasurement: Scenario = {
  name: "tampered-measurement",
  title: "Tampered firmware measurement",
  reqs: ["REQ-AT-04", "REQ-NW-03"],
  description:
    "A handset whose agent reports a measurement the registry does not accept (a repackaged agent) enrols as GREYLISTED, never WHITELISTED.",
  needs: ["measurement"],
  async run(s: Session) {
    const h = await s.handset({ measurement: TAMPERED_MEASUREMENT });
    await h.powerOn();
    await expectStatus(s, "REQ-AT-04", h.imei, "GREYLISTED");
  },
};

export const sealedState: Scenario = {
  name: "sealed-state",
  title: "Rolled-back and tampered sealed state",
  reqs: ["REQ-SEC-04", "REQ-AT-05", "REQ-SEC-05", "REQ-ID-05"],
  description:
    "(1) One bit of an unlocked handset's sealed state is flipped in flash: it boots TAMPERED, locked, attests TAMPERED and is GREYLISTED. (2) A stolen, locked handset's flash is rolled back to a copy taken before the theft, the replay-protected counter untouched: it boots TAMPERED and locked, not unlocked. (3) Sealed state and counter are both rolled back (an attacker who defeated the counter): the registry sees the attested boot count go backwards and flags the device (GREYLISTED).",
  needs: ["storage-attacks"],
  async run(s: Session) {
    // (1) an altered blob
    const a = await s.handset();
    await enrol(s, a);
    await a.powerOff(true);
    await a.storage!.corruptSealed();
    const m1 = s.observer.mark;
    await a.powerOn();
    screenNow(s, "REQ-AT-05", a, true, "booted with an altered sealed state");
    await tamperedToken(s, a, m1);
    await expectStatus(s, "REQ-AT-05", a.imei, "GREYLISTED");
    s.step("altered sealed state: locked, TAMPERED, GREYLISTED");

    // (2) the blob rolled back to before the theft, the counter intact
    const b = await s.handset();
    await enrol(s, b);
    const before = await b.storage!.snapshot();
    await stolen(s, b, false);
    await b.powerOff(true);
    await b.storage!.restore(before, { counter: false });
    const m2 = s.observer.mark;
    await b.powerOn();
    screenNow(s, "REQ-SEC-04", b, true, "booted with its sealed state rolled back to before the theft");
    await tamperedToken(s, b, m2);
    s.step("rolled-back sealed state: locked, TAMPERED");

    // (3) blob and counter rolled back together: only the registry can notice
    const c = await s.handset();
    await enrol(s, c);
    const old = await c.storage!.snapshot();
    for (let i = 0; i < 2; i++) await reboot(s, c);
    await c.powerOff(true);
    await c.storage!.restore(old, { counter: true });
    await c.powerOn();
    await expectStatus(s, "REQ-SEC-05", c.imei, "GREYLISTED");
    s.step("state and counter rolled back: the registry flags the device");
  },
};

/** Reboots and waits until the new boot has attested (the registry has seen its boot count). */
async function reboot(s: Session, h: Handset): Promise<void> {
  await h.powerOff(true);
  const mark = s.observer.mark;
  await h.powerOn();
  await s.waitFor("REQ-SEC-05", "an attestation after the reboot", () => s.observer.of(h.did, "attestation", mark)[0]);
  await new Promise((r) => setTimeout(r, 50)); // the registry commits it
}

/** The handset's next attestation says TAMPERED and lock state 2 (REQ-AT-05). */
async function tamperedToken(s: Session, h: Handset, from: number): Promise<void> {
  const hello = await s.observer.waitFor((m) => (m.did === h.did && m.kind === "hello" ? m : undefined), s.timeoutMs, "a hello", from).catch((e: Error) => s.fail("REQ-AT-05", e.message));
  const att = await s.observer.waitFor((m) => (m.did === h.did && m.kind === "attestation" ? m : undefined), s.timeoutMs, "an attestation", hello.index).catch((e: Error) => s.fail("REQ-AT-05", e.message));
  const v = checkToken(s, h, decodeAttestation(att.payload).token, decodeHello(hello.payload).endorsement);
  s.check("REQ-AT-05", v.tampered && v.lockState === 2, `the token says tampered ${v.tampered}, lock ${v.lockState}; expected TAMPERED, 2`);
}
