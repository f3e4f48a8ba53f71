// `antitheft audit`: a witness that follows registries' ledgers (docs/LEDGER.md §8) with only
// their public keys, and exits non-zero on any inconsistency. Usable by anyone: a regulator, an
// operator checking its peers, a journalist.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { toHex, kidOfPublic } from "../../attestation/index.js";
import type { Command } from "../command.js";
import { CliError } from "../command.js";
import { parseFlags } from "./device-common.js";
import { fetchWithCa } from "../../transport/https.js";
import { loadTlsFlags } from "./transport-flags.js";
import { loadPublicKey } from "../../registry/keys.js";
import { RegistryError } from "../../registry/errors.js";
import { audit, parseAuditState, EMPTY_STATE, type AuditState, type AuditTarget, type AuditReport } from "../../registry/ledger/auditor.js";
import { auditTlog, type TlogState, type TlogTarget } from "../../registry/ledger/tlog-auditor.js";
import { parseVerifierKey } from "../../registry/ledger/note.js";
import { parseWitnessPolicy, type WitnessPolicy } from "../../registry/ledger/witness-policy.js";
import { checkKeepsLedger, checkRegistryKey } from "../preflight.js";

const usage = `Usage: antitheft audit --registry http://HOST:PORT --pub registry.pub [--registry URL --pub FILE ...]
                       [--tlog PREFIX --log-key KEY ...] [--witness-policy FILE]
                       [--log-pub FILE ...] [--state audit.json] [--full] [--sample N]
                       [--follow [--interval S]] [--json] [--ca FILE]

Audits the tamper-evident ledgers of one or more registries (docs/LEDGER.md): checks each signed
tree head under the registry's public key, that every head it ever showed is consistent with the
last one (RFC 9162 consistency proofs), that the signed entries reproduce the signed root, that
sampled entries are proved included, and that no registry holds a different head of the same
log (gossip: a fork or a split view). Only public data and public keys are needed.

  --registry  a registry's base URL; give its --pub right after it (pairs are matched in order)
  --pub       that registry's public key (SPKI PEM, antitheft registry keygen)
  --tlog      a log served in the C2SP tlog-tiles layout (a registry's .../antitheft/v1/ledger/tlog/
              or any static copy made by antitheft ledger export-tiles); give its --log-key after it
  --log-key   that log's checkpoint key (<origin>+<id>+<key>, printed by antitheft registry)
  --witness-policy  FILE ({"quorum": N, "witnesses": [...]}): warn when a tlog checkpoint lacks the quorum
  --log-pub   the key of a registry not audited directly: its heads gossiped by the others are checked
  --state     remembers the last verified head of each log between runs (created if absent);
              without it every run checks every entry
  --full      re-fetch and re-check every entry, not only those added since the last run
  --sample    how many random old entries to prove included (default 8)
  --follow    audit again every --interval seconds (default 60) until stopped or inconsistent
  --json      one JSON report per round instead of text
  --ca        a CA certificate (PEM) that https:// registries' certificates chain to, for registries
              serving HTTPS with a private CA (antitheft registry --tls-cert; docs/PROTOCOL.md §2.1)

Exit status: 0 all consistent, 1 an inconsistency was found (fork, bad signature or proof,
entries that do not reproduce the root), 3 a registry could not be audited, 2 a usage or
configuration mistake (E_CONFIG: a --pub that is not the registry's key, a registry that keeps
no ledger), found before anything is audited.`;

function keyOf(path: string): Uint8Array {
  try {
    return loadPublicKey(path);
  } catch (e) {
    throw new CliError(e instanceof RegistryError ? e.code : "E_FILE", (e as Error).message);
  }
}

function loadState(path: string | undefined): AuditState {
  if (!path) return EMPTY_STATE;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return EMPTY_STATE; // first run
  }
  try {
    return parseAuditState(text);
  } catch (e) {
    throw new CliError("E_STATE", `${path} is not an audit state file: ${(e as Error).message}`);
  }
}

function saveState(path: string | undefined, state: AuditState): void {
  if (!path) return;
  writeFileSync(`${path}.tmp`, JSON.stringify(state, null, 1) + "\n");
  renameSync(`${path}.tmp`, path);
}

function print(r: AuditReport, targets: readonly AuditTarget[], json: boolean): void {
  if (json) {
    process.stdout.write(JSON.stringify({ at: new Date().toISOString(), inconsistent: r.inconsistent, unreachable: r.unreachable, findings: r.findings }) + "\n");
    return;
  }
  const names = new Map(targets.map((t) => [toHex(kidOfPublic(t.publicKey)), t.url]));
  for (const f of r.findings) {
    const tag = f.level === "ok" ? "ok  " : f.level === "warn" ? "WARN" : "FAIL";
    process.stdout.write(`${tag} ${f.code === "OK" ? "" : f.code + " "}log ${/^[0-9a-f]{32}$/.test(f.log) ? f.log.slice(0, 12) : f.log}${names.has(f.log) ? ` (${names.get(f.log)})` : ""}: ${f.message}\n`);
  }
  process.stdout.write(r.inconsistent ? "INCONSISTENT\n" : r.unreachable ? "INCOMPLETE: a registry could not be audited\n" : "consistent\n");
}

/** The registries' own resources (auditor.ts), then the C2SP tlog logs (tlog-auditor.ts), as one report. */
async function auditAll(targets: readonly AuditTarget[], tlogs: readonly TlogTarget[], state: AuditState, o: { full: boolean; sample: number; extraKeys: Uint8Array[]; policy?: WitnessPolicy; fetch?: typeof fetch }): Promise<AuditReport> {
  const via = o.fetch ? { fetch: o.fetch } : {};
  const r = await audit(targets, state, { full: o.full, sample: o.sample, extraKeys: o.extraKeys, ...via });
  const findings = [...r.findings];
  const tlog: Record<string, TlogState> = { ...(state.tlog ?? {}) };
  for (const t of tlogs) {
    const x = await auditTlog(t, tlog[t.key.name], { ...(o.policy ? { policy: o.policy } : {}), ...via }); // never backwards, --full or not
    findings.push(...x.findings);
    if (x.state) tlog[t.key.name] = x.state;
  }
  return {
    findings,
    state: { ...r.state, tlog },
    inconsistent: findings.some((f) => f.level === "fail" && f.code !== "E_LEDGER_UNREACHABLE"),
    unreachable: findings.some((f) => f.level === "fail" && f.code === "E_LEDGER_UNREACHABLE"),
  };
}

export const auditCommand: Command = {
  path: ["audit"],
  summary: "audit registries' tamper-evident ledgers (a third-party witness)",
  usage,
  async run(argv) {
    const v = parseFlags(
      argv,
      {
        registry: { type: "string", multiple: true },
        pub: { type: "string", multiple: true },
        "log-pub": { type: "string", multiple: true },
        state: { type: "string" },
        full: { type: "boolean" },
        sample: { type: "string" },
        follow: { type: "boolean" },
        interval: { type: "string" },
        json: { type: "boolean" },
        tlog: { type: "string", multiple: true },
        "log-key": { type: "string", multiple: true },
        "witness-policy": { type: "string" },
        ca: { type: "string" },
      },
      usage,
    );
    const caFetch = v.ca ? fetchWithCa(loadTlsFlags({ ca: v.ca }).ca!) : undefined;
    const urls = v.registry ?? [];
    const pubs = v.pub ?? [];
    const tlogUrls = v.tlog ?? [];
    const logKeys = v["log-key"] ?? [];
    if (urls.length === 0 && tlogUrls.length === 0) throw new CliError("E_USAGE", `at least one --registry or --tlog is required\n\n${usage}`, 2);
    if (tlogUrls.length !== logKeys.length) throw new CliError("E_USAGE", `give one --log-key per --tlog (${tlogUrls.length} logs, ${logKeys.length} keys)`, 2);
    const tlogs: TlogTarget[] = tlogUrls.map((prefix, i) => {
      if (!/^https?:\/\/[^/]+/.test(prefix)) throw new CliError("E_USAGE", `--tlog must be an http(s) URL, got "${prefix}"`, 2);
      const k = parseVerifierKey(logKeys[i]!);
      if (!k.ok) throw new CliError("E_USAGE", `--log-key ${logKeys[i]}: ${k.reason}`, 2);
      return { prefix, key: k.value };
    });
    let policy: WitnessPolicy | undefined;
    try {
      if (v["witness-policy"]) policy = parseWitnessPolicy(readFileSync(v["witness-policy"], "utf8"));
    } catch (e) {
      throw new CliError("E_USAGE", `--witness-policy: ${(e as Error).message}`, 2);
    }
    if (urls.length !== pubs.length) throw new CliError("E_USAGE", `give one --pub per --registry (${urls.length} registries, ${pubs.length} keys)`, 2);
    for (const u of urls) if (!/^https?:\/\/[^/]+/.test(u)) throw new CliError("E_USAGE", `--registry must be an http(s) URL, got "${u}"`, 2);
    const sample = v.sample === undefined ? 8 : Number(v.sample);
    if (!Number.isSafeInteger(sample) || sample < 0 || sample > 10_000) throw new CliError("E_USAGE", "--sample must be an integer 0..10000", 2);
    const interval = v.interval === undefined ? 60 : Number(v.interval);
    if (!(interval > 0 && interval <= 86_400)) throw new CliError("E_USAGE", "--interval must be a number of seconds in (0, 86400]", 2);
    const targets: AuditTarget[] = urls.map((url, i) => ({ url, publicKey: keyOf(pubs[i]!) }));
    const extraKeys = (v["log-pub"] ?? []).map(keyOf);
    // Configuration mistakes (a --pub of another registry, a registry without a ledger) are
    // reported as such, exit 2, before anything is audited (cli/preflight.ts).
    for (const [i, t] of targets.entries()) {
      await checkRegistryKey(t.url, t.publicKey, `--pub ${pubs[i]}`, "--registry", caFetch);
      await checkKeepsLedger(t.url, "--registry", caFetch);
    }

    let state = loadState(v.state);
    let stop = false;
    const onSignal = () => (stop = true);
    if (v.follow) {
      process.once("SIGINT", onSignal);
      process.once("SIGTERM", onSignal);
    }
    try {
      for (;;) {
        const r = await auditAll(targets, tlogs, state, { full: v.full ?? false, sample, extraKeys, ...(policy ? { policy } : {}), ...(caFetch ? { fetch: caFetch } : {}) });
        print(r, targets, v.json ?? false);
        state = r.state;
        saveState(v.state, state);
        if (r.inconsistent) return 1;
        if (!v.follow) return r.unreachable ? 3 : 0;
        for (let waited = 0; waited < interval * 1000 && !stop; waited += 250) await new Promise((res) => setTimeout(res, 250));
        if (stop) return 0;
      }
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  },
};
