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

/** The only fields anyone without the owner's or an authority's key may read about an IMEI. */
const PUBLIC_FIELDS = new Set(["ok", "imei", "flagged"]);

export const publicCheck: Scenario = {
  name: "public-check",
  title: "The public check tells whether an IMEI is flagged, and nothing else",
  reqs: ["REQ-NW-05"],
  description:
    "A claimed handset: GET /antitheft/v1/check/imei-<IMEI> answers {imei, flagged: false}, and the device view asked without a signature answers no more (no owner, presence, lock state or pending command). The owner's signed view request shows the lock state; a stranger's is refused. The owner reports it stolen: the check answers flagged: true, and still nothing else.",
  async run(s: Session) {
    const h = await s.handset();
    await enrol(s, h);
    const owner = s.owner();
    await claim(s, h, owner);
    const onlyPublic = async (flagged: boolean, when: string) => {
      for (const [what, a] of [["the public check", await s.http.check(h.imei)], ["the unsigned device view", await s.http.device(h.imei)]] as const) {
        s.check("REQ-NW-05", a.status === 200 && a.body.flagged === flagged && a.body.imei === h.imei, `${what} ${when}: expected flagged ${flagged}, got HTTP ${a.status} ${JSON.stringify(a.body)}`);
        const extra = Object.keys(a.body).filter((k) => !PUBLIC_FIELDS.has(k));
        s.check("REQ-NW-05", extra.length === 0, `${what} ${when} tells anyone more than whether the IMEI is flagged: ${extra.join(", ")}`);
      }
    };
    await onlyPublic(false, "of a claimed phone");
    const mine = await s.http.device(h.imei, owner.signer);
    s.check("REQ-NW-05", mine.status === 200 && Array.isArray(mine.body.devices) && typeof (mine.body.devices as { lockState?: unknown }[])[0]?.lockState === "number", `the owner's signed view request: HTTP ${mine.status} ${JSON.stringify(mine.body)}`);
    const stranger = await s.http.device(h.imei, s.owner().signer);
    s.check("REQ-NW-05", stranger.status >= 400 && stranger.status < 500, `a stranger's signed view request was answered: HTTP ${stranger.status} ${JSON.stringify(stranger.body)}`);
    s.step("unsigned: flagged or not, nothing else; the owner's signed view: the whole view; a stranger's: refused");
    await accepted(s, "REQ-NW-05", owner.signer, { type: "report-stolen", imei: h.imei, message: "stolen", contact: "+15550100" });
    await onlyPublic(true, "of a phone reported stolen");
    s.step("reported stolen: flagged, and still nothing else");
  },
};
