// Runs scenarios against a target, one after another (several restart the broker or the
// registry), and collects verdicts: pass, fail (a requirement violated), skip (a capability the
// target lacks) or error (the scenario could not run: an unreachable registry, a crash).
// Requirements get a verdict too: fail if a failure names it, pass if every scenario that
// checks it passed, inconclusive otherwise, untested if none ran.
import type { HandsetDriver, Target } from "./target.js";
import { capabilitiesOf } from "./target.js";
import type { Scenario } from "./scenario.js";
import { ConformanceFailure, ImeiSource, Session } from "./session.js";
import { Observer } from "./observer.js";
import { REQUIREMENTS } from "./catalogue.js";
import { summarize, type Summary } from "../stats.js";

export type Outcome = "pass" | "fail" | "skip" | "error";

export interface Verdict {
  readonly scenario: string;
  readonly title: string;
  readonly reqs: readonly string[];
  readonly outcome: Outcome;
  readonly ms: number;
  /** fail / error: the requirement violated (if any) and why. Never set for a skip. */
  readonly failure?: { readonly req?: string; readonly message: string };
  /** skip: why the scenario did not run (a capability the target lacks). */
  readonly skipReason?: string;
  readonly steps: readonly string[];
  readonly metrics: Readonly<Record<string, Summary>>;
}

export type RequirementOutcome = "pass" | "fail" | "inconclusive" | "untested";

/** What produced a report: the tool, its version and commit, and the options it ran with. */
export interface RunAbout {
  readonly tool: { readonly name: string; readonly version: string; readonly commit: string | null };
  readonly options: Readonly<Record<string, unknown>>;
}

export interface RunReport {
  /** Which tool made the report and how it was run (reports are evidence: they say what produced them). */
  readonly about?: RunAbout;
  readonly target: string;
  readonly driver: string;
  readonly broker: string;
  readonly mqttVersion: 4 | 5;
  readonly startedAt: string;
  readonly ms: number;
  readonly verdicts: readonly Verdict[];
  readonly counts: Readonly<Record<Outcome, number>>;
  readonly requirements: readonly { readonly id: string; readonly outcome: RequirementOutcome; readonly scenarios: readonly string[] }[];
}

export interface RunOptions {
  readonly target: Target;
  readonly scenarios: readonly Scenario[];
  /** Longest wait for anything the protocol promises "soon" (default 5000 ms). */
  readonly timeoutMs?: number;
  /** Longest a whole scenario may take (default 120 s). */
  readonly scenarioTimeoutMs?: number;
  /** Handsets in a mass block (default 20). */
  readonly fleetSize?: number;
  readonly imeis?: ImeiSource;
  /** A driver for one scenario (negative controls); default the target's. */
  readonly driverFor?: (scenario: Scenario) => HandsetDriver | undefined;
  readonly onStart?: (scenario: Scenario) => void;
  readonly onVerdict?: (verdict: Verdict) => void;
  readonly progress?: (done: number, total: number, label: string) => void;
  /** Copied into the report (the CLI passes its version, commit and options). */
  readonly about?: RunAbout;
}

export async function runConformance(o: RunOptions): Promise<RunReport> {
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const imeis = o.imeis ?? new ImeiSource();
  const caps = capabilitiesOf(o.target);
  const observer = await Observer.connect(o.target.brokerUrl, o.target.mqttVersion, undefined, o.target.brokerSecurity);
  const verdicts: Verdict[] = [];
  try {
    for (const sc of o.scenarios) {
      o.onStart?.(sc);
      const v = await runOne(o, sc, observer, imeis, caps);
      verdicts.push(v);
      o.onVerdict?.(v);
    }
  } finally {
    await observer.close();
  }
  const counts: Record<Outcome, number> = { pass: 0, fail: 0, skip: 0, error: 0 };
  for (const v of verdicts) counts[v.outcome]++;
  return {
    ...(o.about ? { about: o.about } : {}),
    target: o.target.name,
    driver: o.target.driver.name,
    broker: o.target.brokerUrl,
    mqttVersion: o.target.mqttVersion,
    startedAt,
    ms: Math.round(performance.now() - t0),
    verdicts,
    counts,
    requirements: requirementOutcomes(verdicts),
  };
}

async function runOne(o: RunOptions, sc: Scenario, observer: Observer, imeis: ImeiSource, caps: Set<string>): Promise<Verdict> {
  const base = { scenario: sc.name, title: sc.title, reqs: sc.reqs };
  const missing = (sc.needs ?? []).filter((c) => !caps.has(c));
  if (missing.length > 0) {
    return { ...base, outcome: "skip", ms: 0, skipReason: `the target lacks: ${missing.join(", ")}`, steps: [], metrics: {} };
  }
  const driver = o.driverFor?.(sc);
  const s = new Session({
    target: o.target,
    observer,
    imeis,
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    ...(o.fleetSize !== undefined ? { fleetSize: o.fleetSize } : {}),
    ...(driver ? { driver } : {}),
    ...(o.progress ? { progress: o.progress } : {}),
  });
  const t0 = performance.now();
  let outcome: Outcome = "pass";
  let failure: Verdict["failure"];
  let timer: NodeJS.Timeout | undefined;
  const cap = o.scenarioTimeoutMs ?? 120_000;
  try {
    await Promise.race([
      sc.run(s),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the scenario did not finish within ${cap} ms`)), cap))),
    ]);
  } catch (e) {
    if (e instanceof ConformanceFailure) {
      outcome = "fail";
      failure = { req: e.req, message: e.message.slice(e.req.length + 2) };
    } else {
      outcome = "error";
      failure = { message: (e as Error)?.message ?? String(e) };
    }
  } finally {
    clearTimeout(timer);
    await s.cleanup();
  }
  const metrics: Record<string, Summary> = {};
  for (const [k, values] of Object.entries(s.metrics)) {
    const m = summarize(values);
    if (m) metrics[k] = m;
  }
  return { ...base, outcome, ms: Math.round(performance.now() - t0), ...(failure ? { failure } : {}), steps: s.steps, metrics };
}

function requirementOutcomes(verdicts: readonly Verdict[]): RunReport["requirements"] {
  return REQUIREMENTS.map((r) => {
    const ran = verdicts.filter((v) => v.reqs.includes(r.id) && v.outcome !== "skip");
    // A scenario may trip over a requirement it does not list (a step it shares with others).
    const failed = verdicts.some((v) => v.outcome === "fail" && v.failure?.req === r.id);
    let outcome: RequirementOutcome;
    if (failed) outcome = "fail";
    else if (ran.length === 0) outcome = "untested";
    else if (ran.every((v) => v.outcome === "pass")) outcome = "pass";
    else outcome = "inconclusive";
    return { id: r.id, outcome, scenarios: ran.map((v) => v.scenario) };
  });
}
