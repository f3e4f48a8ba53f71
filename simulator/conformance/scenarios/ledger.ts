// The shared tamper-evident ledger (docs/LEDGER.md): the registry under test federates
// with two member registries the suite plays (SimulatedPeer, registry/ledger/conformance.ts) on
// the target's broker, and is read through its public ledger resources (LEDGER.md §6-7) and
// TS 29.511 equipment status. The checks are registry/ledger/conformance.ts's, so these scenarios
// and test/ledger-conformance.test.ts test the same things.
import { kidOfPublic, toHex } from "../../../attestation/index.js";
import { LEDGER_PREFIX } from "../../../registry/ledger/http.js";
import {
  SimulatedPeer, checkAudit, checkGetOnlyForMembers, checkForkAlarm, checkHeadSurvives, checkHostileLedgerPayloads, checkNoClearImei, checkOnlyOriginClears, checkPeerFlagApplied, type CheckResult,
} from "../../../registry/ledger/conformance.js";
import { checkTlog } from "../../../registry/ledger/conformance-tlog.js";
import type { Scenario } from "../scenario.js";
import type { Session } from "../session.js";
import { accepted, claim, enrol, statusNow } from "../flows.js";
import { CONTACT, MESSAGE } from "./lifecycle.js";

const TEXT = { message: MESSAGE, contact: CONTACT };

/** The suite's two member registries: `origin` raises and clears, `other` tries to interfere. */
export interface Peers {
  readonly origin: SimulatedPeer;
  readonly other: SimulatedPeer;
  close(): Promise<void>;
}

/** Connects the suite's peers, each resumed where the registry's mirror of its log ends. */
async function joinPeers(s: Session): Promise<Peers> {
  const m = s.target.ledger!;
  const url = s.target.registryUrl();
  const security = await m.peerSecurity?.();
  const [origin, other] = m.peers.map(
    (key, i) => new SimulatedPeer({ broker: s.target.brokerUrl, key, federationKey: m.federationKey, protocolVersion: s.target.mqttVersion, ...(security ? { security: security[i]! } : {}) }),
  ) as [SimulatedPeer, SimulatedPeer];
  const close = async () => void (await Promise.allSettled([origin.close(), other.close()]));
  try {
    for (const p of [origin, other]) {
      const n = await p.resume(url);
      await p.connect();
      s.step(`member registry ${p.logHex.slice(0, 8)}... joins (its log holds ${n} entries at the registry)`);
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { origin, other, close };
}

export async function withPeers(s: Session, run: (p: Peers) => Promise<void>): Promise<void> {
  const p = await joinPeers(s);
  try {
    await run(p);
  } finally {
    await p.close();
  }
}

/** Fails the scenario unless `r` holds; records it as a step. */
function expectCheck(s: Session, r: CheckResult): void {
  s.check(r.id, r.ok, r.detail);
  s.step(`${r.id}: ${r.detail}`);
}

/** The registry's log id (hex): the kid of its key (docs/LEDGER.md §2). */
const ownLog = (s: Session): string => toHex(kidOfPublic(s.target.registryPublic));

/** An enrolled handset claimed by a fresh owner and reported stolen: an entry in the registry's own log. */
async function stolenHandset(s: Session) {
  const h = await s.handset();
  await enrol(s, h);
  const owner = s.owner();
  await claim(s, h, owner);
  await accepted(s, "REQ-NW-02", owner.signer, { type: "report-stolen", imei: h.imei, ...TEXT });
  s.step(`${h.imei} reported stolen at the registry`);
  return { h, owner };
}

/** How many entries of `log` the registry holds (its own log or its mirror of a peer's). */
async function heldEntries(s: Session, log: string): Promise<number> {
  const r = await fetch(`${s.target.registryUrl()}${LEDGER_PREFIX}entries?log=${log}&start=0&end=0`, { signal: AbortSignal.timeout(10_000) });
  const body = (await r.json().catch(() => ({}))) as { size?: unknown };
  return r.status === 200 && typeof body.size === "number" ? body.size : -1;
}

export const ledgerFederation: Scenario = {
  name: "ledger-federation",
  title: "Stolen flags shared across a federation of registries",
  reqs: ["REQ-LG-01", "REQ-LG-02", "REQ-LG-03", "REQ-LG-04"],
  description:
    "A handset is reported stolen at the registry: its log publishes the flag with no IMEI in clear, and a full audit with nothing but the registry's public key verifies every entry, the signed root and inclusion proofs. A member registry played by the suite then publishes a signed stolen flag for an IMEI never seen here: the registry answers BLACKLISTED. Another member's clear naming that flag, and an entry forged into the originator's log, leave it BLACKLISTED; the originator's own clear lifts it.",
  needs: ["ledger"],
  async run(s: Session) {
    const { h } = await stolenHandset(s);
    const url = s.target.registryUrl();
    expectCheck(s, await checkNoClearImei(url, [h.imei]));
    expectCheck(s, await checkAudit([{ url, publicKey: s.target.registryPublic }]));
    await withPeers(s, async ({ origin, other }) => {
      const imei = s.nextImei();
      const applied = await checkPeerFlagApplied(url, origin, imei, s.timeoutMs);
      expectCheck(s, applied);
      expectCheck(s, await checkOnlyOriginClears(url, origin, other, imei, applied.seq, s.timeoutMs));
    });
  },
};

export const ledgerHostile: Scenario = {
  name: "ledger-hostile",
  title: "Hostile payloads on every ledger topic",
  reqs: ["REQ-LG-08"],
  description:
    "Empty, textual, truncated, oversized and misplaced payloads (a member's valid entry on other logs' topics) are published on the entry, sth, gossip, alarm, get and checkpoint topics of the registry's own log and of both members' logs. Every head the registry holds is unchanged, and afterwards a member's flag still reaches its equipment status.",
  needs: ["ledger"],
  async run(s: Session) {
    const url = s.target.registryUrl();
    await withPeers(s, async ({ origin, other }) => {
      expectCheck(s, await checkHostileLedgerPayloads(url, other, [ownLog(s), origin.logHex, other.logHex]));
      const after = await checkPeerFlagApplied(url, origin, s.nextImei(), s.timeoutMs);
      s.check("REQ-LG-08", after.ok, `after the hostile payloads the registry no longer follows its federation: ${after.detail}`);
      s.step("the registry carries on: a member's flag still applies");
    });
  },
};

export const ledgerGet: Scenario = {
  name: "ledger-get",
  title: "Ledger gets are answered for pinned members only",
  reqs: ["REQ-LG-09"],
  description:
    "A handset reported stolen and found gives the registry's log at least two entries. The suite publishes on the registry's get topic an unsigned get (the old form), a get signed by a key the registry does not pin, and a member's signed get naming another log: the registry must publish none of the entries asked. A pinned member's signed, fresh get is then answered (docs/LEDGER.md §6.1).",
  needs: ["ledger"],
  async run(s: Session) {
    const { h, owner } = await stolenHandset(s);
    await accepted(s, "REQ-LK-06", owner.signer, { type: "found", imei: h.imei });
    const url = s.target.registryUrl();
    await withPeers(s, async ({ origin }) => {
      expectCheck(s, await checkGetOnlyForMembers(url, ownLog(s), origin, s.owner(), s.timeoutMs));
    });
  },
};

export const ledgerTlog: Scenario = {
  name: "ledger-tlog",
  title: "The log in the transparency-log ecosystem's formats (C2SP)",
  reqs: ["REQ-LG-10"],
  description:
    "A handset reported stolen gives the registry's log an entry. Its C2SP checkpoint (GET /antitheft/v1/ledger/tlog/checkpoint) must open under the registry's key with its origin line as key name; every tile of that size must be served, the entry bundles must hold the registry's signed entries in order and hash to the level-0 tiles, higher tiles must hash the full tiles below, the leaves must reproduce the checkpoint's root, and a checkpoint at least that large must be retained on at/v1/ledger/<log>/checkpoint.",
  needs: ["ledger"],
  async run(s: Session) {
    await stolenHandset(s);
    const url = s.target.registryUrl();
    await withPeers(s, async ({ origin }) => {
      expectCheck(s, await checkTlog(url, s.target.registryPublic, origin, s.timeoutMs));
    });
  },
};

export const ledgerFork: Scenario = {
  name: "ledger-fork",
  title: "A member's forked log raises an alarm and fails closed",
  reqs: ["REQ-LG-05"],
  description:
    "A member registry flags an IMEI (BLACKLISTED here), then signs a second tree head of the same size with another root. The registry must record an E_LEDGER_FORK alarm whose evidence is that head (GET /antitheft/v1/ledger/alarms), and from then on must not let the forked log's clear lift its flag.",
  needs: ["ledger"],
  async run(s: Session) {
    const url = s.target.registryUrl();
    await withPeers(s, async ({ other: forked }) => {
      const imei = s.nextImei();
      const raised = await checkPeerFlagApplied(url, forked, imei, s.timeoutMs);
      expectCheck(s, raised);
      expectCheck(s, await checkForkAlarm(url, forked, s.timeoutMs));
      const clear = await forked.append("cleared", imei, raised.seq);
      await s.waitFor("REQ-LG-05", `the registry to mirror entry ${clear} of the forked log (its clear)`, async () => (await heldEntries(s, forked.logHex)) > clear, s.timeoutMs, async () => `it holds ${await heldEntries(s, forked.logHex)} entries`);
      await statusNow(s, "REQ-LG-05", imei, "BLACKLISTED", "after the forked log cleared its flag");
      s.step("the forked log's clear did not lift its flag (fail closed)");
    });
  },
};

export const ledgerRestart: Scenario = {
  name: "ledger-restart",
  title: "The ledger survives a registry restart",
  reqs: ["REQ-LG-06"],
  description:
    "With a flag of its own in its log and a member's flag applied, the registry restarts. It must serve a head that is the one it served before or a provably consistent extension, with entry 0 still proved in the old head; the member's flag must still stand, and a new flag from the member must still apply.",
  needs: ["ledger", "restart-registry"],
  async run(s: Session) {
    await stolenHandset(s);
    await withPeers(s, async ({ origin }) => {
      const imei = s.nextImei();
      expectCheck(s, await checkPeerFlagApplied(s.target.registryUrl(), origin, imei, s.timeoutMs));
      const r = await fetch(`${s.target.registryUrl()}${LEDGER_PREFIX}sth`, { signal: AbortSignal.timeout(10_000) });
      const before = (await r.json()) as { sth: string; size: number };
      s.check("REQ-LG-01", r.status === 200 && typeof before.sth === "string", `GET ${LEDGER_PREFIX}sth answered ${r.status}`);
      await s.target.restartRegistry!();
      s.step(`registry restarted (it had served a head of size ${before.size})`);
      const url = s.target.registryUrl();
      expectCheck(s, await checkHeadSurvives(url, s.target.registryPublic, before));
      await statusNow(s, "REQ-LG-03", imei, "BLACKLISTED", "the member's flag after the restart");
      const again = await checkPeerFlagApplied(url, origin, s.nextImei(), s.timeoutMs);
      s.check("REQ-LG-03", again.ok, `after the restart: ${again.detail}`);
      s.step("the member's flag stands and a new one applies");
    });
  },
};

export const ledgerAudit: Scenario = {
  name: "ledger-audit",
  title: "An auditor catches a row altered in the registry's storage",
  reqs: ["REQ-LG-07"],
  description:
    "A handset reported stolen and found gives the registry's log two entries; a full audit is clean. The suite, as an attacker with SQL access, rewrites the newest entry of the log in the registry's database file behind its append-only trigger. An auditor holding only the registry's public key and its previous state must report the log inconsistent. The original row is put back afterwards.",
  needs: ["ledger-storage"],
  async run(s: Session) {
    const { h, owner } = await stolenHandset(s);
    await accepted(s, "REQ-LK-06", owner.signer, { type: "found", imei: h.imei });
    const url = s.target.registryUrl();
    const target = [{ url, publicKey: s.target.registryPublic }];
    const clean = await checkAudit(target);
    expectCheck(s, clean);
    const t = await s.target.tamperLedger!();
    s.step(`storage altered: ${t.what}`);
    try {
      const after = await checkAudit(target, clean.state);
      s.check("REQ-LG-07", !after.ok, `an auditor holding only the registry's public key found nothing wrong after ${t.what}`);
      s.step(`the auditor reports: ${after.detail}`);
    } finally {
      await t.undo();
    }
    const restored = await checkAudit(target, clean.state);
    s.check("REQ-LG-01", restored.ok, `with the original row back the log does not audit clean: ${restored.detail}`);
    s.step("original row restored; the log audits clean again");
  },
};
