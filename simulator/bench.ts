// `npm run bench [-- --json] [-- --seconds S] [-- --only a,b]`: the project's benchmark (not a
// test). Each section (simulator/bench/<name>.ts) measures its figures and returns them; this
// file runs the sections in order and prints ONE JSON object (--json) or a readable table.
// Later issues add a section with one line in SECTIONS.
import { parseArgs } from "node:util";
import { benchCrypto, type Figures } from "./bench/crypto.js";
import { benchAttestation } from "./bench/attestation.js";
import { DEFAULT_MEASURE, type MeasureOptions } from "./bench/measure.js";

interface Section {
  readonly name: string;
  readonly title: string;
  run(opts: MeasureOptions): Promise<Figures>;
}

const SECTIONS: Section[] = [
  { name: "crypto", title: "TA crypto vs node:crypto (OpenSSL) and @noble/curves", run: benchCrypto },
  { name: "lock", title: "Remote lock: owner report -> handset locked and result at the registry", run: async (o) => (await import("./bench/lock.js")).benchLock(o) },
  { name: "lock-tls", title: "Remote lock over mutual TLS (shipped Mosquitto config and ACL)", run: async (o) => (await import("./bench/lock.js")).benchLockTls(o) },
  { name: "attestation", title: "Attestation: whole TA token vs bare TA signature; verifier, whole chain", run: benchAttestation },
  { name: "fleet", title: "Fleet: handsets connected, enrolled and attested; memory; mass lock", run: async (o) => (await import("./bench/fleet.js")).benchFleet(o) },
  { name: "fleet-tls", title: "Fleet over mutual TLS: memory per handset against plain MQTT, same size, same run", run: async (o) => (await import("./bench/fleet-tls.js")).benchFleetTls(o) },
  { name: "ledger", title: "Ledger: signed entries appended and proved; inclusion proof in a 1M-entry log (SQLite)", run: async (o) => (await import("./bench/ledger.js")).benchLedger(o) },
  { name: "eir", title: "Equipment status over HTTP (1M IMEIs, 100k flagged) and enrolment, SQLite and PostgreSQL", run: async (o) => (await import("./bench/eir.js")).benchEir(o) },
  { name: "portal", title: "Owner portal: a WebAuthn assertion's whole check (ES256, EdDSA) vs an Ed25519 COSE request's signature", run: async (o) => (await import("./bench/portal.js")).benchPortal(o) },
];

const UNITS: [RegExp, string][] = [
  [/_per_s$/, "ops/s"],
  [/_mib_per_s$/, "MiB/s"],
  [/_vs_/, "x"],
  [/_bytes$/, "bytes"],
];

function unit(key: string): string {
  let u = "";
  for (const [re, name] of UNITS) if (re.test(key)) u = name;
  return u;
}

function table(title: string, figures: Figures): string {
  const width = Math.max(...Object.keys(figures).map((k) => k.length));
  const lines = Object.entries(figures).map(([k, v]) => {
    const value = typeof v === "number" ? v.toLocaleString("en-US") : v;
    return `  ${k.padEnd(width)}  ${String(value).padStart(14)} ${unit(k)}`;
  });
  return [title, ...lines, ""].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: "boolean", default: false },
      seconds: { type: "string" },
      only: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      "Usage: npm run bench -- [--json] [--seconds S] [--only section,...]\n" +
        `Sections: ${SECTIONS.map((s) => s.name).join(", ")}. Each figure is measured for S seconds (default 1) after a warm-up.\n`,
    );
    return 0;
  }
  const seconds = values.seconds === undefined ? DEFAULT_MEASURE.seconds : Number(values.seconds);
  if (!(seconds > 0 && seconds <= 60)) {
    process.stderr.write("error E_USAGE: --seconds must be a number in (0, 60]\n");
    return 2;
  }
  const only = values.only?.split(",").map((s) => s.trim());
  const unknown = only?.filter((n) => !SECTIONS.some((s) => s.name === n)) ?? [];
  if (unknown.length) {
    process.stderr.write(`error E_USAGE: unknown section(s) ${unknown.join(", ")}\n`);
    return 2;
  }
  const opts: MeasureOptions = { seconds, warmup: Math.min(DEFAULT_MEASURE.warmup, seconds / 4) };
  const all: Figures = {};
  for (const section of SECTIONS.filter((s) => !only || only.includes(s.name))) {
    const figures = await section.run(opts);
    Object.assign(all, figures);
    if (!values.json) process.stdout.write(table(section.title, figures) + "\n");
  }
  all.node_version = process.version;
  all.measure_seconds = seconds;
  if (values.json) process.stdout.write(JSON.stringify(all) + "\n");
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
