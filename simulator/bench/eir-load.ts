// The load process of the "eir" benchmark section (simulator/bench/eir.ts), run as its own OS
// process so the registry's thread and the load generator do not share an event loop:
// `node eir-load.js <base url> <imeis> <seconds> <concurrency>`. It sends TS 29.511
// equipment-status GETs for IMEIs drawn uniformly from the bulk-loaded range (eirImei), over
// keep-alive connections, `concurrency` in flight, and prints one JSON line:
// { n, seconds, p50_ms, p99_ms, statuses: { WHITELISTED: .., BLACKLISTED: .. }, errors }.
import { Agent, request } from "node:http";
import { performance } from "node:perf_hooks";
import { eirImei } from "./eir-data.js";

const [base, imeiArg, secondsArg, concArg] = process.argv.slice(2);
const imeis = Number(imeiArg);
const seconds = Number(secondsArg);
const concurrency = Number(concArg);
const url = new URL(base!);
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });

function lookup(imei: string): Promise<{ ok: boolean; status: string }> {
  return new Promise((resolve) => {
    const req = request(
      { host: url.hostname, port: url.port, path: `/n5g-eir-eic/v1/equipment-status?pei=imei-${imei}`, agent },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (body += d));
        res.on("end", () => {
          try {
            resolve({ ok: res.statusCode === 200, status: String(JSON.parse(body).status) });
          } catch {
            resolve({ ok: false, status: `HTTP ${res.statusCode}` });
          }
        });
      },
    );
    req.on("error", () => resolve({ ok: false, status: "error" }));
    req.end();
  });
}

async function main(): Promise<void> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  const warmEnd = performance.now() + 500;
  let measuring = false;
  let t0 = 0;
  let end = Infinity;
  const loop = async (): Promise<void> => {
    for (;;) {
      const now = performance.now();
      if (!measuring && now >= warmEnd) {
        measuring = true;
        t0 = now;
        end = now + seconds * 1000;
      }
      if (now >= end) return;
      const i = Math.floor(Math.random() * imeis);
      const s = performance.now();
      const r = await lookup(eirImei(i));
      if (!measuring) continue;
      latencies.push(performance.now() - s);
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (!r.ok) errors++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
  process.stdout.write(JSON.stringify({ n: latencies.length, seconds: elapsed, p50_ms: pct(50), p99_ms: pct(99), statuses, errors }) + "\n");
  agent.destroy();
}

void main();
