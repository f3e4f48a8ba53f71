// The simulator's small parts: percentiles (nearest rank), the progress bar, report encodings
// (JUnit XML escaping), bounded concurrency, per-run IMEIs, and the handset's radio switch.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { isValidImei } from "../attestation/index.js";
import type { Link, Transport } from "../agent/mqtt-link.js";
import { percentile, summarize, formatSummary } from "../simulator/stats.js";
import { Progress } from "../simulator/progress.js";
import { pool } from "../simulator/pool.js";
import { NetworkSwitch, NetworkDownError } from "../simulator/network.js";
import { ImeiSource } from "../simulator/conformance/session.js";
import { formatTable, toJunit, xmlText } from "../simulator/conformance/report.js";
import type { RunReport } from "../simulator/conformance/runner.js";

test("percentile: nearest rank (the textbook five-value example)", () => {
  const v = [15, 20, 35, 40, 50];
  assert.equal(percentile(v, 5), 15);
  assert.equal(percentile(v, 30), 20);
  assert.equal(percentile(v, 40), 20);
  assert.equal(percentile(v, 50), 35);
  assert.equal(percentile(v, 100), 50);
  assert.throws(() => percentile([], 50), RangeError);
  assert.throws(() => percentile(v, 0), RangeError);
});

test("percentile: a value of the data, at or above a p share of it (property)", () => {
  fc.assert(
    fc.property(fc.array(fc.integer(), { minLength: 1, maxLength: 200 }), fc.integer({ min: 1, max: 100 }), (xs, p) => {
      const s = [...xs].sort((a, b) => a - b);
      const q = percentile(s, p);
      assert.ok(s.includes(q));
      assert.ok(s.filter((x) => x <= q).length >= Math.ceil((p / 100) * s.length));
    }),
  );
});

test("summarize: counts, bounds, mean; ignores non-finite values", () => {
  const s = summarize([3, 1, 2, Number.NaN, 4])!;
  assert.deepEqual(s, { n: 4, min: 1, p50: 2, p90: 4, p99: 4, max: 4, mean: 2.5 });
  assert.equal(summarize([]), undefined);
  assert.equal(formatSummary(s), "p50 2 / p90 4 / p99 4 / max 4 ms (n=4)");
});

test("progress: a redrawn bar on a terminal, a line per tenth elsewhere", () => {
  let t = 0;
  const tty: string[] = [];
  const p = new Progress({ write: (x) => tty.push(x), tty: true, width: 10, now: () => t });
  p.update(0, 200, "booted");
  t = 50;
  p.update(10, 200, "booted"); // within 100 ms: not redrawn
  t = 150;
  p.update(100, 200, "booted");
  t = 300;
  p.update(200, 200, "booted");
  assert.equal(tty.length, 3);
  assert.match(tty[1]!, /^\r\[#####\.\.\.\.\.\] 100\/200 booted/);
  assert.ok(tty[2]!.endsWith("\n"));
  const log: string[] = [];
  const q = new Progress({ write: (x) => log.push(x), tty: false, now: () => 0 });
  for (let i = 0; i <= 1000; i += 7) q.update(i, 1000, "enrolled");
  q.update(1000, 1000, "enrolled");
  assert.equal(log.length, 11); // 0%, 10%, ..., 100%
  const few: string[] = [];
  const r = new Progress({ write: (x) => few.push(x), tty: false, now: () => 0 });
  for (let i = 0; i <= 20; i++) r.update(i, 20, "locked");
  assert.deepEqual(few, ["  locked: 20/20  0.0 s\n"]);
});

test("reports: XML text is escaped and stripped of characters XML 1.0 cannot carry", () => {
  assert.equal(xmlText(`<a b="c">&'`), "&lt;a b=&quot;c&quot;&gt;&amp;&apos;");
  assert.equal(xmlText("ok\u0000\u0007\ud800 done"), "ok done");
  const report: RunReport = {
    target: "t <x>", driver: "d", broker: "mqtt://b", mqttVersion: 5, startedAt: new Date(0).toISOString(), ms: 1234,
    verdicts: [
      { scenario: "a", title: "A & B", reqs: ["REQ-LK-01"], outcome: "fail", ms: 10, failure: { req: "REQ-LK-01", message: 'screen "unlocked" <bad>' }, steps: ["+ 1 ms step"], metrics: {} },
      { scenario: "b", title: "B", reqs: ["REQ-LK-02"], outcome: "skip", ms: 0, skipReason: "the target lacks: authority", steps: [], metrics: {} },
      { scenario: "c", title: "C", reqs: ["REQ-LK-03"], outcome: "error", ms: 5, failure: { message: "ECONNREFUSED" }, steps: [], metrics: {} },
    ],
    counts: { pass: 0, fail: 1, skip: 1, error: 1 },
    requirements: [{ id: "REQ-LK-01", outcome: "fail", scenarios: ["a"] }],
  };
  const xml = toJunit(report);
  assert.match(xml, /<testsuites name="antitheft conformance" tests="3" failures="1" errors="1" skipped="1" time="1.234">/);
  assert.match(xml, /<failure message="REQ-LK-01: screen &quot;unlocked&quot; &lt;bad&gt;" type="REQ-LK-01">/);
  assert.match(xml, /<skipped message="the target lacks: authority"\/>/);
  assert.match(xml, /<error message="ECONNREFUSED" type="error">/);
  assert.ok(!/<bad>|"unlocked"/.test(xml));
  assert.match(formatTable(report), /a\s+FAIL\s+10\s+REQ-LK-01/);
});

test("pool: never more than n at once, every item once", async () => {
  let running = 0;
  let peak = 0;
  const done: number[] = [];
  await pool([...Array(50).keys()], 4, async (x) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 1));
    done.push(x);
    running--;
  });
  assert.equal(peak, 4);
  assert.deepEqual(done.sort((a, b) => a - b), [...Array(50).keys()]);
});

test("ImeiSource: valid IMEIs (Luhn), unique within a run, a random test TAC (00xxxxxx) per run", () => {
  const a = new ImeiSource();
  const imeis = Array.from({ length: 1000 }, () => a.next());
  assert.ok(imeis.every(isValidImei));
  assert.match(a.tac, /^00[0-9]{6}$/, "a test TAC (GSMA TS.06 Reporting Body Identifier 00)");
  assert.equal(new Set(imeis).size, 1000);
  assert.ok(imeis.every((i) => i.startsWith(a.tac)));
  assert.throws(() => new ImeiSource("123"), RangeError);
});

test("NetworkSwitch: off refuses connections and drops the ones up; on lets them through", async () => {
  const ended: boolean[] = [];
  let closed = 0;
  const inner: Transport = async (_o, h) => {
    const link: Link = { sessionPresent: false, publish: async () => {}, subscribe: async () => {}, end: async (g) => void (ended.push(g ?? true), h.closed()) };
    return link;
  };
  const net = new NetworkSwitch(inner);
  const opts = { clientId: "c", protocolVersion: 4 as const, will: { topic: "w", payload: new Uint8Array(0), retain: true } };
  await net.transport(opts, { message: () => {}, closed: () => void closed++ });
  net.set(false);
  assert.deepEqual(ended, [false], "a lost signal: no DISCONNECT, the Will fires");
  assert.equal(closed, 1);
  await assert.rejects(net.transport(opts, { message: () => {}, closed: () => {} }), NetworkDownError);
  net.set(true);
  await net.transport(opts, { message: () => {}, closed: () => {} });
});
