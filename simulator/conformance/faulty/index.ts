// The negative controls: for every scenario, at least one broken handset or registry against
// which it must FAIL, naming the requirement the breakage violates. A suite that passes against
// these would be testing nothing (`antitheft conformance --self-test`, and
// test/conformance-negative.test.ts, run them all).
import type { RegistryCustomizer } from "../../embedded.js";
import { EmbeddedSite } from "../../embedded.js";
import type { VirtualHandsetDriver } from "../../handset.js";
import { runConformance, type Verdict } from "../runner.js";
import { selectScenarios } from "../scenarios/index.js";
import { siteTarget } from "../suite.js";
import type { HandsetDriver, Target } from "../target.js";
import * as H from "./handsets.js";
import * as R from "./registries.js";

export interface NegativeControl {
  readonly scenario: string;
  /** The broken registry, if the breakage is on the registry's side. */
  readonly registry?: RegistryCustomizer;
  /** The broken handsets, if the breakage is on the handset's side. */
  readonly handsets?: (base: VirtualHandsetDriver, target: Pick<Target, "brokerUrl" | "mqttVersion">) => HandsetDriver;
  /** The requirement the scenario must report as violated. */
  readonly violates: string;
}

export const NEGATIVE_CONTROLS: readonly NegativeControl[] = [
  { scenario: "enrolment", registry: R.pinsRogueOem, violates: "REQ-ID-02" },
  { scenario: "theft-lock", handsets: H.ignoresLock, violates: "REQ-LK-01" },
  { scenario: "offline-theft", registry: R.fireAndForget, violates: "REQ-LK-03" },
  { scenario: "reboot-locked", handsets: H.lateEnforcement, violates: "REQ-LK-04" },
  { scenario: "factory-reset", handsets: H.resetWipesTa, violates: "REQ-LK-05" },
  { scenario: "owner-found", handsets: H.ignoresUnlock, violates: "REQ-LK-06" },
  { scenario: "clone", registry: R.rebindsImeis, violates: "REQ-ID-03" },
  { scenario: "second-endorsement", registry: R.ignoresEndorsementChanges, violates: "REQ-ID-04" },
  { scenario: "tampered-measurement", registry: R.noMeasurementPolicy, violates: "REQ-AT-04" },
  { scenario: "forged-commands", handsets: H.trustsUnsignedCommands, violates: "REQ-SEC-01" },
  { scenario: "forged-commands", handsets: H.ignoresSequence, violates: "REQ-SEC-02" },
  { scenario: "forged-commands", handsets: H.ignoresTarget, violates: "REQ-SEC-03" },
  { scenario: "sealed-state", handsets: H.counterInFlash, violates: "REQ-SEC-04" },
  { scenario: "nonce", registry: R.ignoresNonces, violates: "REQ-AT-02" },
  { scenario: "forged-requests", registry: R.trustingGateway, violates: "REQ-SEC-06" },
  { scenario: "forged-results", registry: R.endsJobOnAnyRejected, violates: "REQ-SEC-08" },
  { scenario: "claim-hijack", handsets: H.registersOnChallenge, violates: "REQ-SEC-09" },
  { scenario: "clear-rule", registry: R.clearLeavesLocked, violates: "REQ-SEC-11" },
  { scenario: "foreign-audience", registry: R.ignoresAudience, violates: "REQ-SEC-12" },
  { scenario: "flood", registry: R.noLimits, violates: "REQ-SEC-13" },
  { scenario: "oem-out-of-range", registry: R.ignoresOemRanges, violates: "REQ-ID-06" },
  { scenario: "public-check", registry: R.leakyViewGateway, violates: "REQ-NW-05" },
  { scenario: "hostile-payloads", handsets: H.crashesOnGarbage, violates: "REQ-SEC-07" },
  { scenario: "broker-restart", handsets: H.neverReconnects, violates: "REQ-RG-04" },
  { scenario: "registry-restart", registry: R.inMemory, violates: "REQ-RG-03" },
  { scenario: "mass-block", registry: R.shedsLoad, violates: "REQ-LK-08" },
  { scenario: "ledger-federation", registry: R.publishesImeis, violates: "REQ-LG-02" },
  { scenario: "ledger-federation", registry: R.ignoresPeerFlags, violates: "REQ-LG-03" },
  { scenario: "ledger-federation", registry: R.clearsByPosition, violates: "REQ-LG-04" },
  { scenario: "whole-device-flag", registry: R.perImeiPeerFlags, violates: "REQ-NW-04" },
  { scenario: "ledger-hostile", registry: R.federationHangsUp, violates: "REQ-LG-08" },
  { scenario: "ledger-get", registry: R.answersAnyGet, violates: "REQ-LG-09" },
  { scenario: "ledger-tlog", registry: R.tilesWithoutLeafPrefix, violates: "REQ-LG-10" },
  { scenario: "ledger-fork", registry: R.ignoresForks, violates: "REQ-LG-05" },
  { scenario: "ledger-fork", registry: R.honoursForkedClears, violates: "REQ-LG-05" },
  { scenario: "ledger-restart", registry: R.inMemory, violates: "REQ-LG-06" },
  { scenario: "ledger-audit", registry: R.servesLogFromMemory, violates: "REQ-LG-07" },
  { scenario: "forged-commands", handsets: H.rejectsWithoutToken, violates: "REQ-AT-07" },
  { scenario: "reboot-locked", handsets: H.answersHeldDesired, violates: "REQ-LK-09" },
  { scenario: "offline-theft", handsets: H.cleanSession, violates: "REQ-LK-10" },
  { scenario: "owner-found", handsets: H.unlockKeepsText, violates: "REQ-LK-11" },
];

export interface ControlResult {
  readonly control: NegativeControl;
  readonly broken: string;
  readonly verdict: Verdict;
  /** True when the scenario failed naming the violated requirement. */
  readonly caught: boolean;
}

/** Runs one negative control on its own embedded site. */
export async function runNegativeControl(c: NegativeControl, o: { module: WebAssembly.Module; timeoutMs?: number; fleetSize?: number }): Promise<ControlResult> {
  const site = await EmbeddedSite.start({ ledger: true, ...(c.registry ? { customize: c.registry } : {}) });
  try {
    const target = siteTarget({ site, module: o.module });
    const driver = c.handsets ? c.handsets(target.driver as VirtualHandsetDriver, target) : undefined;
    const report = await runConformance({
      target: driver ? { ...target, driver } : target,
      scenarios: selectScenarios(c.scenario),
      timeoutMs: o.timeoutMs ?? 2000,
      fleetSize: o.fleetSize ?? 10,
    });
    const verdict = report.verdicts[0]!;
    return { control: c, broken: c.registry?.name ?? driver!.name.replace(/^BROKEN: /, ""), verdict, caught: verdict.outcome === "fail" && verdict.failure?.req === c.violates };
  } finally {
    await site.stop();
  }
}
