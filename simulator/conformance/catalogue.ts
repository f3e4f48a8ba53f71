// The requirement catalogue (docs/CONFORMANCE.md mirrors it; test/conformance-catalogue checks
// that the two agree and that every requirement is tested by at least one scenario).
// Ids are stable: never renumbered or reused, only appended. Each requirement names where it
// comes from: ITU-T Res. 97 as elaborated by Rec. ITU-T Q.5051 (03/2020) "Framework for
// combating the use of stolen mobile devices", the IETF and 3GPP specifications we implement,
// and our own protocol (docs/PROTOCOL.md, docs/ATTESTATION.md, docs/ABI.md). The ledger's
// requirements (REQ-LG) are kept with its checks in registry/ledger/conformance.ts and taken
// from there.
import { REQ_LG, type ReqLg } from "../../registry/ledger/conformance.js";

export type RequirementArea = "ID" | "AT" | "LK" | "RG" | "NW" | "SEC" | "LG";

export interface Requirement {
  /** Stable id, e.g. "REQ-LK-03". */
  readonly id: string;
  /** One sentence: what a conforming agent or registry does. */
  readonly text: string;
  /** Where it comes from (clauses, sections). */
  readonly sources: readonly string[];
  /** Which side it binds: the handset (TA + agent), the registry, or both. */
  readonly side: "handset" | "registry" | "both";
}

const Q5051 = "ITU-T Q.5051";

export const REQUIREMENTS: readonly Requirement[] = [
  // ---- identity ----------------------------------------------------------------------------
  { id: "REQ-ID-01", side: "both", text: "A handset's IMEIs are bound to a key derived in its Trusted App, endorsed by its OEM; on the wire it is named only by a pseudonymous id derived from that key, never by its IMEI.", sources: ["Res. 97 (reliable, tamper-resistant device identifiers)", `${Q5051} §7.3, §8.3`, "RFC 9334 §3 (Endorser)", "PROTOCOL §1", "ATTESTATION §1-2"] },
  { id: "REQ-ID-02", side: "registry", text: "The registry enrols a handset only with an endorsement that chains to a pinned OEM root and endorses the very key that signs the handset's attestation.", sources: [`${Q5051} §8.3`, "RFC 9711 §4.2.1", "PROTOCOL §6.1", "ATTESTATION §4 steps 2-8"] },
  { id: "REQ-ID-03", side: "registry", text: "An IMEI presented by two different device keys makes every device involved a clone suspect (GREYLISTED, reason recorded), and no owner can claim it.", sources: [`${Q5051} §7.3, §7.8`, "PROTOCOL §6.1"] },
  { id: "REQ-ID-04", side: "registry", text: "A second, different OEM endorsement for a handset's IMEI makes the device a clone suspect.", sources: [`${Q5051} §7.3`, "PROTOCOL §6.1"] },
  { id: "REQ-ID-05", side: "handset", text: "Identity is write-once: neither a factory reset nor deleting or rolling back the sealed state makes a handset factory-fresh or gives it another IMEI.", sources: [`${Q5051} §7.3, §7.8`, "ABI §Identity and attestation (States)"] },
  { id: "REQ-ID-06", side: "registry", text: "An OEM root endorses only the TAC ranges the registry pins it for: a hello or attestation whose endorsement names an IMEI (or IMEI 2) outside them is refused and changes nothing - no challenge, no enrolment, no clone suspicion of the IMEI's rightful device.", sources: ["3GPP TS 23.003 §6.2.1 (TAC)", `${Q5051} §7.3`, "PROTOCOL §6.1"] },
  // ---- attestation -------------------------------------------------------------------------
  { id: "REQ-AT-01", side: "handset", text: "A handset answers each challenge with an EAT signed by its device key (COSE_Sign1, EdDSA) whose eat_nonce is exactly the challenge's nonce and which reports its lock state.", sources: ["RFC 9711 §4.1, §4.2", "RFC 9052 §4.2, §4.4", "PROTOCOL §4.2-4.3", "ATTESTATION §3.1"] },
  { id: "REQ-AT-02", side: "registry", text: "The registry accepts an attestation only for a nonce it issued to that device, once, within its TTL, signed by that device's key; a wrong, replayed or foreign token changes nothing.", sources: ["RFC 9711 §4.1", "RFC 9334 §10 (freshness)", "PROTOCOL §4.2-4.3", "ATTESTATION §4 step 10"] },
  { id: "REQ-AT-03", side: "registry", text: "Lock state and sequence numbers count only from verified tokens: unsigned hints (hello, heartbeat) never change a device's status.", sources: ["PROTOCOL §4.1, §4.4"] },
  { id: "REQ-AT-04", side: "registry", text: "A handset whose reported agent/firmware measurement is not an accepted one is GREYLISTED.", sources: ["RFC 9711 §4.2.16 (measurements)", `${Q5051} §7.8`, "ATTESTATION §3.1 (claim 273)"] },
  { id: "REQ-AT-05", side: "both", text: "A Trusted App whose sealed state fails verification reports TAMPERED in its tokens and counts as fully locked; the registry GREYLISTs it.", sources: ["ATTESTATION §3.1 (ta_state)", "ABI §States", "PROTOCOL §6.3"] },
  { id: "REQ-AT-06", side: "both", text: "A command's result carries a token bound to that command (nonce = SHA-512(command)[0..32]) that proves the new lock state; the registry settles a job only with such a proof.", sources: ["PROTOCOL §4.6", "RFC 9711 §4.1"] },
  { id: "REQ-AT-07", side: "handset", text: "A handset answers a command it refuses with a REJECTED result that carries the Trusted App's error code and a token bound to the refused command (nonce = SHA-512(command)[0..32]) showing its unchanged state; a refusal is never unsigned.", sources: ["PROTOCOL §4.6", "RFC 9711 §4.1", "ABI §Commands"] },
  // ---- lock ---------------------------------------------------------------------------------
  { id: "REQ-LK-01", side: "both", text: "An owner's stolen report makes the handset fully lock (LwM2M Object 8 state 2), showing the owner's message and contact number.", sources: ["Res. 97 (render stolen devices useless)", `${Q5051} §7.1`, "LwM2M Object 8 res 0", "PROTOCOL §5, §6.2"] },
  { id: "REQ-LK-02", side: "handset", text: "A handset acknowledges a command with a receipt (IN_PROGRESS) and reports the outcome separately with the LwM2M Object 8 result code (2 full lock OK, 3 unlock OK).", sources: ["LwM2M Object 8 res 5", "AWS IoT Jobs (receipt vs. result)", "PROTOCOL §4.5-4.6"] },
  { id: "REQ-LK-03", side: "both", text: "A handset that is offline when it is flagged locks as soon as it reconnects (persistent session, QoS 1, retained desired state, re-send on hello).", sources: [`${Q5051} §7.1`, "MQTT 3.1.1 §3.1.2.4 / MQTT 5 §3.1.2.4 (sessions)", "PROTOCOL §2, §3, §5"] },
  { id: "REQ-LK-04", side: "handset", text: "A handset enforces the Trusted App's lock state at boot, before any network traffic: a locked phone that reboots is locked with no network.", sources: [`${Q5051} §7.1`] },
  { id: "REQ-LK-05", side: "handset", text: "A factory reset wipes user data but never the lock.", sources: [`${Q5051} §7.1, §7.6`, "OMA DM LAWMO FactoryReset"] },
  { id: "REQ-LK-06", side: "both", text: "The owner's found report unlocks the handset (LwM2M unlock OK) and the equipment status returns to WHITELISTED.", sources: [`${Q5051} §7.5`, "PROTOCOL §6.2"] },
  { id: "REQ-LK-07", side: "handset", text: "A duplicate delivery of the last accepted command is re-reported as SUCCEEDED and not applied again.", sources: ["MQTT §4.3.2 (QoS 1: at least once)", "PROTOCOL §2, §4.6"] },
  { id: "REQ-LK-08", side: "both", text: "A mass block (many devices flagged at once) reaches and locks every handset; none is lost under load.", sources: [`${Q5051} §8.2`, "PROTOCOL §5"] },
  { id: "REQ-LK-09", side: "handset", text: "A retained desired state that already holds (the command just applied, or a sequence number at or below the Trusted App's last) is state, not a job: the handset sends no receipt and no result for it.", sources: ["MQTT 3.1.1 §3.3.1.3 (RETAIN)", "PROTOCOL §3, §4.6"] },
  { id: "REQ-LK-10", side: "handset", text: "A handset keeps a persistent MQTT session (3.1.1 cleanSession = 0; 5 cleanStart = 0 with a session expiry of at least 7 days), so QoS 1 messages published while it is offline reach it when it reconnects.", sources: ["MQTT 3.1.1 §3.1.2.4", "MQTT 5 §3.1.2.4, §3.1.2.11.2", "PROTOCOL §2"] },
  { id: "REQ-LK-11", side: "handset", text: "An unlocked handset shows no lock screen: unlocking removes the lock-screen message and contact number.", sources: [`${Q5051} §7.5`, "PROTOCOL §5 (action 2)", "ABI §Commands (effect of an accepted command)"] },
  // ---- registry -----------------------------------------------------------------------------
  { id: "REQ-RG-01", side: "registry", text: "An owner claims a device only with a claim code issued to the owner's key and the handset's own registration-purpose attestation for that code.", sources: ["PROTOCOL §6.2 (claim)"] },
  { id: "REQ-RG-02", side: "registry", text: "Only the party that raised a flag (or the owner, for a found phone) may clear it.", sources: ["GSMA Device Registry (flagging organisation)", `${Q5051} §8.4`, "PROTOCOL §6.2"] },
  { id: "REQ-RG-03", side: "registry", text: "A registry restart loses no flag and no pending command: the command reaches the handset afterwards.", sources: ["PROTOCOL §5"] },
  { id: "REQ-RG-04", side: "both", text: "A broker restart loses no command: handsets reconnect (with backoff) and the registry resumes.", sources: ["PROTOCOL §2"] },
  { id: "REQ-RG-05", side: "registry", text: "The registry keeps a command open and re-sends it until a verified SUCCEEDED result arrives.", sources: ["PROTOCOL §5, §4.6"] },
  { id: "REQ-RG-06", side: "registry", text: "A pinned authority can reset a device's ownership (naming the new owner, or releasing it); the reset is logged as an event and a signed ledger entry.", sources: ["PROTOCOL §6.2 (reset-owner)", "LEDGER §2 (owner-reset)", `${Q5051} §8.4`] },
  // ---- network status -----------------------------------------------------------------------
  { id: "REQ-NW-01", side: "registry", text: "Equipment status per 3GPP TS 29.511: 200 WHITELISTED for a clean enrolled device, 404 ERROR_EQUIPMENT_UNKNOWN for an unknown IMEI, 400 for a malformed PEI.", sources: ["3GPP TS 29.511 §5.2.2.2, §6.1.6.2", "3GPP TS 29.571 §5.2.4.1 (ProblemDetails)", "PROTOCOL §6.3"] },
  { id: "REQ-NW-02", side: "registry", text: "A flagged device is BLACKLISTED as soon as the flag is accepted, whether or not the handset is reachable.", sources: [`${Q5051} §7.2, §8.2`, "3GPP TS 29.511 §6.1.6.3.2", "PROTOCOL §6.3"] },
  { id: "REQ-NW-03", side: "registry", text: "Clone suspects and TAMPERED devices are GREYLISTED; unknown or inconsistent data is never an implicit allow.", sources: [`${Q5051} §7.3`, "3GPP TS 29.511 §6.1.6.3.2", "PROTOCOL §6.3"] },
  { id: "REQ-NW-04", side: "registry", text: "A flag covers the whole device: a flag on any IMEI of a dual-IMEI handset, a peer registry's included, makes every IMEI bound to it BLACKLISTED, and claim, transfer and found naming any of its IMEIs are refused while the flag stands.", sources: ["3GPP TS 29.511 §6.1.6.3.2", "3GPP TS 23.003 §6.2.1", "PROTOCOL §6.3", "LEDGER §5"] },
  { id: "REQ-NW-05", side: "registry", text: "Anyone may learn whether an IMEI is flagged, and nothing more: its owner, presence, lock state and pending commands are shown only to its owner and pinned authorities.", sources: ["PROTOCOL §6.2 (Device views)", "PORTAL §5"] },
  // ---- security ----------------------------------------------------------------------------
  { id: "REQ-SEC-01", side: "handset", text: "A command not signed by a registry key provisioned into the Trusted App is refused (REJECTED) and changes nothing.", sources: ["RFC 9052 §4.4", "RFC 8032 §5.1.7", "PROTOCOL §5"] },
  { id: "REQ-SEC-02", side: "handset", text: "A replayed command (sequence number not above the last accepted one) is refused and changes nothing.", sources: ["PROTOCOL §5"] },
  { id: "REQ-SEC-03", side: "handset", text: "A command for another device (ueid or device kid not its own) is refused and changes nothing.", sources: ["PROTOCOL §5"] },
  { id: "REQ-SEC-04", side: "handset", text: "Altered or rolled-back sealed state is detected (TAMPERED, locked), never taken for a valid older state.", sources: ["ABI §States", "JEDEC eMMC RPMB (replay-protected counter)", "ATTESTATION §3.1"] },
  { id: "REQ-SEC-05", side: "registry", text: "Attested counters going backwards (a rollback that defeated the replay-protected counter) make the registry flag the device.", sources: ["PROTOCOL §6.1"] },
  { id: "REQ-SEC-06", side: "registry", text: "Owner and authority requests are accepted only when signed by the right party, fresh and not replayed; anything else is refused and changes nothing.", sources: ["RFC 9052 §4.4", "PROTOCOL §6.2"] },
  { id: "REQ-SEC-07", side: "both", text: "Hostile payloads (not CBOR, wrong shape, truncated, oversized) on any topic are dropped: no crash, no state change, the receiver carries on.", sources: ["PROTOCOL §2", "RFC 8949 §5 (well-formedness)"] },
  { id: "REQ-SEC-08", side: "registry", text: "A command's job ends only on a result the device signed for that command: a SUCCEEDED or REJECTED without a token bound to the command bytes, or with another device's token, is refused; the command stays open and is delivered when the handset comes back.", sources: ["PROTOCOL §4.6", "RFC 9052 §4.4", "RFC 9711 §4.1", "AWS IoT Jobs (receipt vs. result)"] },
  { id: "REQ-SEC-09", side: "both", text: "Tokens carry their intended use (EAT intuse): a handset answers network challenges and reports results with generic tokens only, and the registry accepts a claim only with a registration-purpose token, so a token obtained by challenging a handset never claims it.", sources: ["RFC 9711 §4.3.3 (intuse)", "PROTOCOL §4.3, §6.2 (purposes)", "ATTESTATION §3.1"] },
  { id: "REQ-SEC-10", side: "registry", text: "A claim needs a claim code the registry issued to the claiming key for that IMEI, unexpired and unused; the code is consumed by the claim.", sources: ["PROTOCOL §6.2 (claim codes)", "RFC 9334 §10 (freshness)"] },
  { id: "REQ-SEC-11", side: "registry", text: "The lock follows the network status: lifting the last flag of a locked device issues an unlock; found without a flag is refused; a device flagged while unclaimed cannot be claimed by its holder after the clear without an authority's reset-owner.", sources: ["PROTOCOL §6.2 (the clear rule)", `${Q5051} §8.4`] },
  { id: "REQ-SEC-12", side: "registry", text: "A signed owner or authority request is accepted only by the registry it names as its audience (aud, the kid of that registry's command key): one addressed to another registry, or to none, is refused with E_AUDIENCE and changes nothing.", sources: ["RFC 9052 §4.4", "RFC 8392 §3.1.3 (aud)", "PROTOCOL §6.2"] },
  { id: "REQ-SEC-13", side: "registry", text: "One source's flood costs the registry bounded work: hellos replayed for one device id mint no new challenge while one sent to it is fresh and are rate-limited (fewer challenges than hellos), and a burst of requests from one signer is answered 429 E_RATE_LIMITED and changes nothing.", sources: ["RFC 4732 §3 (Internet denial-of-service considerations)", "RFC 6585 §4 (429)", "PROTOCOL §6.4"] },
  // ---- ledger (docs/LEDGER.md) -----------------------------------------------------
  ...(Object.keys(REQ_LG) as ReqLg[]).map((id): Requirement => ({ id, side: "registry", text: REQ_LG[id].text, sources: REQ_LG[id].source.split("; ") })),
];

export function requirement(id: string): Requirement {
  const r = REQUIREMENTS.find((x) => x.id === id);
  if (!r) throw new RangeError(`unknown requirement ${id}`);
  return r;
}
