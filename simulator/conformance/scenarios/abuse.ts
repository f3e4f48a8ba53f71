// Abuse resistance on the wire (PROTOCOL.md §6.1-6.4): requests addressed to another registry,
// a flag on one IMEI of a dual-IMEI handset, floods of hellos and of one signer's requests, and
// an OEM endorsing IMEIs outside its TAC ranges. The observer plays the attacker on the broker.
import { randomInt } from "node:crypto";
import { generateEd25519, imeiFromTacSnr, kidOfPublic, rawPublicKey, toHex } from "../../../attestation/index.js";
import { decodeChallenge, deviceTopic } from "../../../protocol/messages.js";
import { buildRequest } from "../../../registry/request-codec.js";
import type { Scenario } from "../scenario.js";
import type { Session } from "../session.js";
import type { Handset } from "../target.js";
import {
  accepted, claim, enrol, equipmentStatus, expectStatus, pendingCommand, refused, request, screen, screenNow, statusNow, staysStatus,
} from "../flows.js";
import { CONTACT, MESSAGE } from "./lifecycle.js";
import { withPeers } from "./ledger.js";

const TEXT = { message: MESSAGE, contact: CONTACT };

/** How long "nothing happens" is watched after a barrier (bounds the watch; asserts no speed). */
const SETTLE_MS = 300;

/** The first hello the handset sent (its endorsement: what an attacker on the broker replays). */
function firstHello(s: Session, h: Handset): Uint8Array {
  const hello = s.observer.of(h.did, "hello")[0];
  if (!hello) s.fail("REQ-ID-01", `no hello from ${h.did} on the wire`);
  return hello.payload;
}

/**
 * Barrier: replays `h`'s hello and waits for the registry's challenge to it. A registry reads its
 * subscription in order, so once it answers, it has read what the suite published before.
 */
async function barrier(s: Session, req: string, h: Handset, hello: Uint8Array): Promise<void> {
  const m = s.observer.mark;
  await s.observer.publish(deviceTopic(h.did, "hello"), hello);
  await s.waitFor(req, `the registry's challenge to a later hello of ${h.did} (a barrier)`, () => s.observer.of(h.did, "challenge", m)[0]);
}

export const foreignAudience: Scenario = {
  name: "foreign-audience",
  title: "Signed requests addressed to another registry",
  reqs: ["REQ-SEC-12"],
  description:
    "An owner's stolen report for a claimed handset, validly signed but addressed to another registry (its \"aud\" is another registry key's kid), and the same report with no audience, are refused with E_AUDIENCE: the status stays WHITELISTED and no command is issued. With an authority key, the authority's flag addressed to another registry is refused the same way. The same report addressed to this registry is then accepted (BLACKLISTED), so the refusals were about the audience alone.",
  async run(s: Session) {
    const h = await s.handset();
    await enrol(s, h);
    const owner = s.owner();
    await claim(s, h, owner);
    const elsewhere = kidOfPublic(rawPublicKey(generateEd25519().privateKey)); // another registry's command key
    const report = { type: "report-stolen" as const, imei: h.imei, ...TEXT };
    const cases: [string, Uint8Array][] = [
      [`the owner's stolen report addressed to registry ${toHex(elsewhere).slice(0, 8)}...`, buildRequest(owner.signer, report, elsewhere)],
      ["the owner's stolen report with no audience", buildRequest(owner.signer, report, null)],
    ];
    const authority = s.target.authority;
    if (authority) cases.push(["an authority's flag addressed to another registry", buildRequest(authority, { type: "flag", imei: h.imei, reason: "inquiry", ...TEXT }, elsewhere)]);
    for (const [what, body] of cases) {
      const code = await refused(s, "REQ-SEC-12", owner.signer, body, what);
      s.check("REQ-SEC-12", code === "E_AUDIENCE", `${what} was refused with ${code}, expected E_AUDIENCE`);
      await statusNow(s, "REQ-SEC-12", h.imei, "WHITELISTED", `after ${what}`);
      s.check("REQ-SEC-12", (await pendingCommand(s, h.imei)) === undefined, `${what} left a command pending`);
      s.step(`${what}: refused (E_AUDIENCE), nothing changed`);
    }
    await accepted(s, "REQ-SEC-06", owner.signer, report);
    await expectStatus(s, "REQ-NW-02", h.imei, "BLACKLISTED");
    s.step("the same report addressed to this registry: accepted, BLACKLISTED");
  },
};

export const wholeDeviceFlag: Scenario = {
  name: "whole-device-flag",
  title: "A flag on one IMEI covers the whole dual-IMEI handset",
  reqs: ["REQ-NW-04"],
  needs: ["ledger"],
  description:
    "A dual-IMEI handset is enrolled (both IMEIs WHITELISTED) and claimed. A member registry the suite plays publishes a signed stolen flag naming IMEI 1 only: IMEI 1 and IMEI 2 must both answer BLACKLISTED. The owner reports the phone stolen here too, naming IMEI 2 (the handset locks); the owner's found naming IMEI 2 must then be refused (the member's flag still stands) with no unlock issued, and a transfer naming IMEI 2 refused; both IMEIs stay BLACKLISTED and the handset stays locked.",
  async run(s: Session) {
    const second = s.nextImei();
    const h = await s.handset({ imei2: second });
    await enrol(s, h);
    await expectStatus(s, "REQ-NW-04", second, "WHITELISTED");
    const owner = s.owner();
    await claim(s, h, owner);
    s.step(`dual-IMEI handset ${h.imei} / ${second} enrolled and claimed`);
    await withPeers(s, async ({ origin }) => {
      await origin.append("stolen", h.imei);
      await expectStatus(s, "REQ-LG-03", h.imei, "BLACKLISTED");
      await expectStatus(s, "REQ-NW-04", second, "BLACKLISTED");
      s.step("a member's flag naming IMEI 1: both IMEIs BLACKLISTED");
      await accepted(s, "REQ-NW-02", owner.signer, { type: "report-stolen", imei: second, ...TEXT });
      await screen(s, "REQ-LK-01", h, true, MESSAGE);
      await s.waitFor("REQ-RG-05", "the registry to settle the lock on the handset's result", async () => (await pendingCommand(s, h.imei)) === undefined);
      s.step("the owner's stolen report naming IMEI 2: locked");
      await refused(s, "REQ-NW-04", owner.signer, { type: "found", imei: second }, "the owner's found naming IMEI 2 while a member's flag on IMEI 1 stands");
      s.check("REQ-NW-04", (await pendingCommand(s, h.imei)) === undefined, "the refused found left an unlock pending");
      await refused(s, "REQ-NW-04", owner.signer, { type: "transfer", imei: second, key: s.owner().coseKey }, "a transfer naming IMEI 2 while a member's flag on IMEI 1 stands");
      await staysStatus(s, "REQ-NW-04", second, "BLACKLISTED", SETTLE_MS, "after the refused found");
      await statusNow(s, "REQ-NW-04", h.imei, "BLACKLISTED", "after the refused found");
      screenNow(s, "REQ-NW-04", h, true, "after the refused found");
      s.step("found and transfer naming IMEI 2: refused; both BLACKLISTED, still locked");
    });
  },
};

export const flood: Scenario = {
  name: "flood",
  title: "Hello floods and request bursts",
  reqs: ["REQ-SEC-13"],
  description:
    "Two handsets enrol and power off. The attacker replays one handset's hello 60 times on its hello topic; after a barrier (the other handset's hello answered) and until its challenges stop, at most one distinct nonce was sent to the flooded device and fewer challenges than hellos. Then an attacker key sends claim-code requests for that (unclaimed) handset, up to 100: one must be answered 429 E_RATE_LIMITED (an error, no claim code), as must the next; the genuine owner, another key, still gets a code and claims the handset.",
  async run(s: Session) {
    const h = await s.handset();
    await enrol(s, h);
    const g = await s.handset();
    await enrol(s, g);
    const hello = firstHello(s, h);
    const gHello = firstHello(s, g);
    await Promise.all([h.powerOff(true), g.powerOff(true)]);
    s.step("two handsets enrolled and powered off (their challenges stay unanswered)");

    const HELLOS = 60;
    const m = s.observer.mark;
    for (let i = 0; i < HELLOS; i++) await s.observer.publish(deviceTopic(h.did, "hello"), hello);
    await barrier(s, "REQ-SEC-13", g, gHello);
    // Until the flooded device's challenges stop (a registry may still be sending them).
    let count = -1;
    await s.waitFor("REQ-SEC-13", "the challenges to the flooded device to stop", async () => {
      const now = s.observer.of(h.did, "challenge", m).length;
      if (now === count) return true;
      count = now;
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      return false;
    }, Math.max(s.timeoutMs, 4 * SETTLE_MS));
    const nonces = new Set(s.observer.of(h.did, "challenge", m).map((c) => {
      try {
        return toHex(decodeChallenge(c.payload).nonce);
      } catch {
        return "malformed";
      }
    }));
    s.check("REQ-SEC-13", nonces.size <= 1, `${HELLOS} replayed hellos minted ${nonces.size} distinct challenge nonces (at most one while one is fresh)`);
    s.check("REQ-SEC-13", count < HELLOS, `${HELLOS} replayed hellos were answered with ${count} challenges (no rate limit per device id)`);
    s.step(`${HELLOS} replayed hellos: ${count} challenge(s), ${nonces.size} distinct nonce(s)`);

    const attacker = s.owner();
    let limited = -1;
    for (let i = 0; i < 100 && limited < 0; i++) {
      const a = await request(s, attacker.signer, { type: "claim-code", imei: h.imei, key: attacker.coseKey });
      if (a.status === 429) {
        s.check("REQ-SEC-13", a.body.ok === false && a.body.code === "E_RATE_LIMITED", `a 429 answer is not {"ok": false, "code": "E_RATE_LIMITED"}: ${JSON.stringify(a.body)}`);
        limited = i;
      } else {
        s.check("REQ-SEC-13", a.status === 200 && a.body.ok === true, `claim-code request ${i + 1} of the burst: HTTP ${a.status} ${JSON.stringify(a.body)}`);
      }
    }
    s.check("REQ-SEC-13", limited >= 0, "100 claim-code requests from one key in a burst: none answered 429 E_RATE_LIMITED");
    const again = await request(s, attacker.signer, { type: "claim-code", imei: h.imei, key: attacker.coseKey });
    s.check("REQ-SEC-13", again.status === 429 && again.body.code === "E_RATE_LIMITED", `the request after the limit: HTTP ${again.status} ${JSON.stringify(again.body)}`);
    s.step(`one key's burst of claim-code requests: 429 E_RATE_LIMITED from request ${limited + 1}`);
    await claim(s, h, s.owner());
    s.step("the genuine owner (another key) still gets a code and claims the handset");
  },
};

/** A valid IMEI with `tac` and a random serial number. */
function imeiInTac(tac: string): string {
  return imeiFromTacSnr(tac + String(randomInt(0, 1_000_000)).padStart(6, "0"));
}

export const oemOutOfRange: Scenario = {
  name: "oem-out-of-range",
  title: "An OEM endorses only its own TAC ranges",
  reqs: ["REQ-ID-06"],
  needs: ["oem-ranges"],
  description:
    "A second OEM the registry pins for its own TAC ranges only: its handset with an IMEI in them enrols (WHITELISTED). A victim's handset from the suite's OEM enrols. Then the second OEM endorses a new key with the victim's IMEI (outside its ranges) - the attack that would greylist the victim as a clone - and a handset with an IMEI in its ranges and the victim's TAC as IMEI 2: after a barrier (the victim's hello answered), neither got a challenge, the second one's IMEI is still unknown (404), and the victim is still WHITELISTED.",
  async run(s: Session) {
    const ranged = s.target.rangedOem!;
    const inside = await s.handset({ oem: ranged.signer, imei: imeiInTac(ranged.tac) });
    await enrol(s, inside);
    s.step(`the ranged OEM's handset ${inside.imei} (TAC ${ranged.tac}) enrolled`);
    const victim = await s.handset();
    await enrol(s, victim);
    const victimHello = firstHello(s, victim);
    const forgers = [
      { what: `a key endorsed by the ranged OEM for the victim's IMEI ${victim.imei}`, h: await s.handset({ oem: ranged.signer, imei: victim.imei }) },
      { what: "a handset of the ranged OEM with an IMEI 2 outside its ranges", h: await s.handset({ oem: ranged.signer, imei: imeiInTac(ranged.tac), imei2: s.nextImei() }) },
    ];
    for (const { what, h } of forgers) {
      const m = s.observer.mark;
      await h.powerOn();
      await s.waitFor("REQ-ID-01", `a hello from ${h.did}`, () => s.observer.of(h.did, "hello", m)[0]);
      await barrier(s, "REQ-ID-06", victim, victimHello);
      const end = performance.now() + SETTLE_MS;
      do {
        s.check("REQ-ID-06", s.observer.of(h.did, "challenge", m).length === 0, `${what}: the registry challenged it (it accepted the endorsement)`);
        await statusNow(s, "REQ-ID-06", victim.imei, "WHITELISTED", `after ${what}`);
        await new Promise((r) => setTimeout(r, 25));
      } while (performance.now() < end);
      if (h.imei !== victim.imei) {
        const st = await equipmentStatus(s, h.imei);
        s.check("REQ-ID-06", st.status === "UNKNOWN", `${what}: its IMEI 1 ${h.imei} is ${st.status}, expected unknown (404)`);
      }
      s.step(`${what}: no challenge, the victim still WHITELISTED`);
      await h.powerOff(true);
    }
  },
};
