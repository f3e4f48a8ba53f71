// Reports of a conformance run: a console table, JSON (everything, for machines) and JUnit XML
// (for CI systems: one testcase per scenario, its requirements in the name, failures typed by
// the violated requirement).
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { REQUIREMENTS } from "./catalogue.js";
import type { RunReport, Verdict } from "./runner.js";
import { formatSummary } from "../stats.js";

const MARK: Record<Verdict["outcome"], string> = { pass: "PASS", fail: "FAIL", skip: "SKIP", error: "ERROR" };

function cut(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n - 1) + "…";
}

/** The console table: one line per scenario, then totals, requirements and measurements. */
export function formatTable(r: RunReport, width = 120): string {
  const nameW = Math.max(8, ...r.verdicts.map((v) => v.scenario.length));
  const a = r.about;
  const lines = [
    `antitheft conformance: ${r.target}`,
    `  handsets: ${r.driver}; broker ${r.broker} (MQTT ${r.mqttVersion === 5 ? "5" : "3.1.1"})`,
    ...(a ? [`  tool: ${a.tool.name} ${a.tool.version}${a.tool.commit ? ` (commit ${a.tool.commit})` : ""}; started ${r.startedAt}`, `  options: ${formatOptions(a.options)}`] : []),
    "",
    `  ${"scenario".padEnd(nameW)}  result  ${"ms".padStart(6)}  requirements / detail`,
  ];
  for (const v of r.verdicts) {
    lines.push(`  ${v.scenario.padEnd(nameW)}  ${MARK[v.outcome].padEnd(6)}  ${String(v.ms).padStart(6)}  ${v.reqs.join(" ")}`);
    if (v.failure) lines.push(`  ${" ".repeat(nameW + 18)}${cut((v.failure.req ? `${v.failure.req}: ` : "") + v.failure.message, Math.max(40, width - nameW - 18))}`);
    if (v.skipReason) lines.push(`  ${" ".repeat(nameW + 18)}${cut(`skipped: ${v.skipReason}`, Math.max(40, width - nameW - 18))}`);
  }
  const c = r.counts;
  lines.push("", `  ${r.verdicts.length} scenarios: ${c.pass} pass, ${c.fail} fail, ${c.skip} skipped, ${c.error} errors in ${(r.ms / 1000).toFixed(1)} s`);
  const byOutcome = new Map<string, string[]>();
  for (const q of r.requirements) byOutcome.set(q.outcome, [...(byOutcome.get(q.outcome) ?? []), q.id]);
  lines.push(`  ${r.requirements.length} requirements: ${["pass", "fail", "inconclusive", "untested"].map((o) => `${byOutcome.get(o)?.length ?? 0} ${o}`).join(", ")}`);
  for (const o of ["fail", "inconclusive", "untested"]) {
    const ids = byOutcome.get(o);
    // A run of a few scenarios leaves most requirements untested: no need to list them all.
    if (ids?.length && (o !== "untested" || ids.length <= 10)) lines.push(`    ${o}: ${ids.join(" ")}`);
  }
  const measured = r.verdicts.flatMap((v) => Object.entries(v.metrics).map(([k, m]) => `    ${v.scenario} ${k}: ${formatSummary(m)}`));
  if (measured.length) lines.push("  measurements:", ...measured);
  return lines.join("\n") + "\n";
}

function formatOptions(o: Readonly<Record<string, unknown>>): string {
  const parts = Object.entries(o).filter(([, v]) => v !== undefined && v !== false).map(([k, v]) => (v === true ? `--${k}` : `--${k} ${Array.isArray(v) ? v.join(" ") : String(v)}`));
  return parts.length ? parts.join(" ") : "(defaults)";
}

/** Everything, with the requirement texts, as JSON. */
export function toJson(r: RunReport): string {
  const texts = Object.fromEntries(REQUIREMENTS.map((q) => [q.id, { text: q.text, sources: q.sources }]));
  return JSON.stringify({ ...r, requirements: r.requirements.map((q) => ({ ...q, ...texts[q.id] })) }, null, 2) + "\n";
}

/** XML 1.0 text: escaped, with characters XML cannot carry removed. */
export function xmlText(s: string): string {
  return s
    .replace(/[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/** JUnit XML (the de facto schema read by Jenkins, GitLab, GitHub Actions reporters). */
export function toJunit(r: RunReport): string {
  const s = (n: number) => (n / 1000).toFixed(3);
  const c = r.counts;
  const out = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="antitheft conformance" tests="${r.verdicts.length}" failures="${c.fail}" errors="${c.error}" skipped="${c.skip}" time="${s(r.ms)}">`,
    `  <testsuite name="${xmlText(`antitheft conformance: ${r.target}`)}" tests="${r.verdicts.length}" failures="${c.fail}" errors="${c.error}" skipped="${c.skip}" time="${s(r.ms)}" timestamp="${r.startedAt.slice(0, 19)}">`,
    `    <properties>`,
    `      <property name="handsets" value="${xmlText(r.driver)}"/>`,
    `      <property name="broker" value="${xmlText(r.broker)}"/>`,
    `      <property name="mqtt" value="${r.mqttVersion === 5 ? "5" : "3.1.1"}"/>`,
    ...(r.about
      ? [
          `      <property name="tool" value="${xmlText(`${r.about.tool.name} ${r.about.tool.version}`)}"/>`,
          ...(r.about.tool.commit ? [`      <property name="commit" value="${r.about.tool.commit}"/>`] : []),
          `      <property name="options" value="${xmlText(formatOptions(r.about.options))}"/>`,
        ]
      : []),
    `    </properties>`,
  ];
  for (const v of r.verdicts) {
    out.push(`    <testcase classname="conformance.${xmlText(v.scenario)}" name="${xmlText(`${v.title} [${v.reqs.join(" ")}]`)}" time="${s(v.ms)}">`);
    const msg = v.failure ? xmlText((v.failure.req ? `${v.failure.req}: ` : "") + v.failure.message) : "";
    if (v.outcome === "fail") out.push(`      <failure message="${msg}" type="${xmlText(v.failure?.req ?? "failure")}">${msg}</failure>`);
    if (v.outcome === "error") out.push(`      <error message="${msg}" type="error">${msg}</error>`);
    if (v.outcome === "skip") out.push(`      <skipped message="${xmlText(v.skipReason ?? "")}"/>`);
    if (v.steps.length) out.push(`      <system-out>${xmlText(v.steps.join("\n"))}</system-out>`);
    out.push(`    </testcase>`);
  }
  out.push(`  </testsuite>`, `</testsuites>`, "");
  return out.join("\n");
}

/** Writes summary.txt, conformance.json and junit.xml into `dir`; returns their paths. */
export async function writeReports(dir: string, r: RunReport): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: [string, string][] = [
    ["summary.txt", formatTable(r)],
    ["conformance.json", toJson(r)],
    ["junit.xml", toJunit(r)],
  ];
  for (const [name, text] of files) await writeFile(join(dir, name), text);
  return files.map(([name]) => join(dir, name));
}
