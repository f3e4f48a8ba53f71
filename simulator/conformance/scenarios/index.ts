// Every scenario, in the order the suite runs them (docs/CONFORMANCE.md lists them with their
// requirements). The ledger's come last, ledger-audit (which alters the registry's storage and
// puts it back) at the very end.
import type { Scenario } from "../scenario.js";
import { enrolment, factoryReset, offlineTheft, ownerFound, rebootLocked, theftLock } from "./lifecycle.js";
import { clone, sealedState, secondEndorsement, tamperedMeasurement } from "./identity.js";
import { forgedCommands, forgedRequests, forgedResults } from "./attacks.js";
import { hostilePayloads } from "./hostile.js";
import { claimHijack, clearRule, publicCheck } from "./ownership.js";
import { flood, foreignAudience, oemOutOfRange, wholeDeviceFlag } from "./abuse.js";
import { nonce } from "./nonce.js";
import { brokerRestart, massBlock, registryRestart } from "./resilience.js";
import { ledgerAudit, ledgerFederation, ledgerFork, ledgerGet, ledgerHostile, ledgerRestart, ledgerTlog } from "./ledger.js";

export const SCENARIOS: readonly Scenario[] = [
  enrolment,
  theftLock,
  offlineTheft,
  rebootLocked,
  factoryReset,
  ownerFound,
  clone,
  secondEndorsement,
  tamperedMeasurement,
  forgedCommands,
  sealedState,
  nonce,
  forgedRequests,
  forgedResults,
  claimHijack,
  clearRule,
  foreignAudience,
  flood,
  oemOutOfRange,
  publicCheck,
  hostilePayloads,
  brokerRestart,
  registryRestart,
  massBlock,
  ledgerFederation,
  wholeDeviceFlag,
  ledgerHostile,
  ledgerGet,
  ledgerTlog,
  ledgerFork,
  ledgerRestart,
  ledgerAudit,
];

/** The scenarios `names` selects ("all" or a comma-separated list); throws RangeError for an unknown name. */
export function selectScenarios(names: string | readonly string[] = "all"): Scenario[] {
  const list = typeof names === "string" ? names.split(",").map((n) => n.trim()).filter(Boolean) : [...names];
  if (list.length === 0 || list.includes("all")) return [...SCENARIOS];
  return list.map((n) => {
    const sc = SCENARIOS.find((x) => x.name === n);
    if (!sc) throw new RangeError(`unknown scenario "${n}" (known: ${SCENARIOS.map((x) => x.name).join(", ")})`);
    return sc;
  });
}
