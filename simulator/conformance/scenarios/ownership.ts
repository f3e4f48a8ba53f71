// Ownership abuse (PROTOCOL.md §6.2): a broker client turning a handset's challenge answers into
// claim proofs, claim codes reused or issued to someone else, and the network status and the
// lock drifting apart when flags are lifted. The observer plays the attacker.
import { decodeSign1 } from "../../../attestation/index.js";
import { decodeTokenClaims } from "../../../attestation/eat/claims.js";
import { INTUSE } from "../../../attestation/eat/profile.js";
import { claimNonce } from "../../../protocol/claim-code.js";
import { decodeAttestation, deviceTopic, encodeChallenge } from "../../../protocol/messages.js";
import type { Scenario } from "../scenario.js";
import type { Session } from "../session.js";
import {
  accepted, claim, claimCode, claimRequest, enrol, expectStatus, lockAndConfirm, nextCommand, pendingCommand, refused, result, screen,
} from "../flows.js";

function intuse(token: Uint8Array): number | undefined {
  try {
    return decodeTokenClaims(decodeSign1(token).payload).intuse;
  } catch {
    return undefined;
  }
}

export const claimHijack: Scenario = {
  name: "claim-hijack",
  title: "Claim hijack through the broker, and claim codes",
  reqs: ["REQ-SEC-09", "REQ-SEC-10", "REQ-RG-01"],
  description:
    "An attacker on the broker asks the registry for a claim code for an enrolled, unclaimed handset (signed with its own key), challenges the handset with that code's claim nonce on its challenge topic, and claims the handset with every token the handset sends back: each claim must be refused (a challenge answer is a generic-purpose token, never a claim proof). The genuine owner then gets a code, types it on the handset and claims; the attacker's claim with the owner's code and proof is refused (codes are bound to the key they were issued to), the owner's is accepted, and the same code sent again is refused (single use). Expiry is checked by the unit tests (it needs the registry's clock).",
  async run(s: Session) {
    const h = await s.handset();
    await enrol(s, h);
    const attacker = s.owner();
    const code = await claimCode(s, h, attacker);
    s.check("REQ-SEC-10", code !== undefined && /^[0-9A-Z]{5}-[0-9A-Z]{5}$/.test(code), `the registry issued no claim code of the form XXXXX-XXXXX: ${code}`);
    const m = s.observer.mark;
    await s.observer.publish(deviceTopic(h.did, "challenge"), encodeChallenge({ nonce: claimNonce(code!) }));
    // Everything the handset sent up to and including its generic answer (in order on the wire).
    const answers = await s.waitFor("REQ-AT-01", "the handset's answer to the attacker's challenge", () => {
      const tokens = s.observer.of(h.did, "attestation", m).map((a) => decodeAttestation(a.payload).token);
      return tokens.some((t) => intuse(t) === INTUSE.GENERIC) ? tokens : undefined;
    });
    s.step(`the handset answered the attacker's challenge with ${answers.length} token(s), intuse ${answers.map(intuse).join(", ")}`);
    for (const [i, proof] of answers.entries()) {
      await refused(s, "REQ-SEC-09", attacker.signer, { type: "claim", imei: h.imei, key: attacker.coseKey, code: code!, proof }, `a claim with the handset's answer ${i + 1} to a broker challenge (intuse ${intuse(proof)})`);
    }
    s.step("claims with challenge answers refused");

    const owner = s.owner();
    const theirs = await claimRequest(s, h, owner); // the owner's code, typed on the handset, and its proof
    await refused(s, "REQ-SEC-10", attacker.signer, { ...theirs, key: attacker.coseKey }, "a claim with a code and proof issued to another key");
    await accepted(s, "REQ-RG-01", owner.signer, theirs);
    await refused(s, "REQ-SEC-10", owner.signer, theirs, "the used claim code sent again (new request id)");
    s.step("the owner's code: useless to the attacker, accepted once for the owner, refused after");
  },
};

export const clearRule: Scenario = {
  name: "clear-rule",
  title: "Lock and network status stay consistent when flags are lifted; ownership reset",
  reqs: ["REQ-SEC-11", "REQ-RG-06"],
  needs: ["authority"],
  description:
    "A claimed handset that is not flagged: the owner's found is refused and no command is issued. An authority flags it (locked) and clears its flag: the registry issues an unlock and the handset unlocks, WHITELISTED and unlocked together. A second handset, never claimed, is flagged and cleared by the authority: its holder's claim is refused, until the authority resets its ownership naming an owner, who can then report it.",
  async run(s: Session) {
    const authority = s.target.authority!;
    const h = await s.handset();
    await enrol(s, h);
    const owner = s.owner();
    await claim(s, h, owner);
    await refused(s, "REQ-SEC-11", owner.signer, { type: "found", imei: h.imei }, "a found report for a phone that is not flagged");
    s.check("REQ-SEC-11", (await pendingCommand(s, h.imei)) === undefined, "a found report for an unflagged phone left a command pending");
    s.step("found on an unflagged phone: refused, no command");

    await lockAndConfirm(s, h, () => accepted(s, "REQ-RG-02", authority, { type: "flag", imei: h.imei, reason: "inquiry", message: "Held for inquiry", contact: "112" }), { message: "Held for inquiry", contact: "112" });
    const m = s.observer.mark;
    await accepted(s, "REQ-RG-02", authority, { type: "clear", imei: h.imei });
    await expectStatus(s, "REQ-SEC-11", h.imei, "WHITELISTED");
    const unlock = await nextCommand(s, "REQ-SEC-11", h, m, 2);
    await result(s, "REQ-SEC-11", h, unlock.peek.seq, m);
    await screen(s, "REQ-SEC-11", h, false);
    s.step("the authority's clear of the last flag: WHITELISTED and unlocked");

    const g = await s.handset();
    await enrol(s, g);
    await accepted(s, "REQ-RG-02", authority, { type: "flag", imei: g.imei, reason: "stolen shipment" });
    await accepted(s, "REQ-RG-02", authority, { type: "clear", imei: g.imei });
    await expectStatus(s, "REQ-SEC-11", g.imei, "WHITELISTED");
    const holder = s.owner();
    await refused(s, "REQ-SEC-11", holder.signer, await claimRequest(s, g, holder), "a claim by the holder of a phone flagged while unclaimed");
    s.step("flagged while unclaimed, cleared: the holder's claim is refused");
    const rightful = s.owner();
    await accepted(s, "REQ-RG-06", authority, { type: "reset-owner", imei: g.imei, key: rightful.coseKey, reason: "proof of purchase" });
    await accepted(s, "REQ-RG-06", rightful.signer, { type: "report-lost", imei: g.imei });
    await expectStatus(s, "REQ-RG-06", g.imei, "BLACKLISTED");
    s.step("the authority's reset-owner named the owner, who can report the phone");
  },
};
