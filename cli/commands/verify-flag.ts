// `antitheft verify-flag`: checks an offline flag proof (docs/LEDGER.md §7.3) with no network:
// the registry's checkpoint key, the witness policy and, to tie it to a handset, the IMEI and the
// federation key.
import { readFileSync } from "node:fs";
import type { Command } from "../command.js";
import { CliError } from "../command.js";
import { imeiFlag, parseFlags } from "./device-common.js";
import { toHex } from "../../attestation/index.js";
import { parseVerifierKey } from "../../registry/ledger/note.js";
import { parseWitnessPolicy } from "../../registry/ledger/witness-policy.js";
import { verifyFlagProof } from "../../registry/ledger/flag-proof.js";
import { FederationKey } from "../../registry/ledger/pseudonym.js";

const usage = `Usage: antitheft verify-flag --bundle flag.json --log-key KEY [--witness-policy FILE]
                             [--imei IMEI --federation-key FILE] [--json]

Verifies an offline proof that a registry flagged a handset (docs/LEDGER.md §7.3), with no
network: the checkpoint is signed by the registry's checkpoint key (--log-key, as antitheft
registry prints it) and, with --witness-policy, cosigned by a quorum of its witnesses; the entry
is signed by the same registry, at the position the bundle says, and proved included (RFC 9162)
in that checkpoint. With --imei and --federation-key, the entry must name that handset.
The proof shows the flag was published; a later clear would be in later entries of the log.

Exit status: 0 verified, 1 not verified (the reason is printed), 2 usage.`;

export const verifyFlag: Command = {
  path: ["verify-flag"],
  summary: "verify an offline proof of a flag (entry, inclusion proof, cosigned checkpoint)",
  usage,
  async run(argv) {
    const v = parseFlags(argv, { bundle: { type: "string" }, "log-key": { type: "string" }, "witness-policy": { type: "string" }, imei: { type: "string" }, "federation-key": { type: "string" }, json: { type: "boolean" } }, usage);
    if (!v.bundle || !v["log-key"]) throw new CliError("E_USAGE", `--bundle and --log-key are required\n\n${usage}`, 2);
    if (Boolean(v.imei) !== Boolean(v["federation-key"])) throw new CliError("E_USAGE", "--imei and --federation-key go together", 2);
    if (v.imei) imeiFlag(v.imei);
    const key = parseVerifierKey(v["log-key"]);
    if (!key.ok) throw new CliError("E_USAGE", `--log-key: ${key.reason}`, 2);
    let policy;
    let bundle: unknown;
    let fk: FederationKey | undefined;
    try {
      if (v["witness-policy"]) policy = parseWitnessPolicy(readFileSync(v["witness-policy"], "utf8"));
      bundle = JSON.parse(readFileSync(v.bundle, "utf8"));
      if (v["federation-key"]) fk = FederationKey.fromFile(v["federation-key"]);
    } catch (e) {
      throw new CliError("E_USAGE", (e as Error).message, 2);
    }
    const r = verifyFlagProof(bundle, { log: key.value, ...(policy ? { policy } : {}) });
    let fail = r.ok ? undefined : `${r.code}: ${r.reason}`;
    if (r.ok && fk && v.imei && !r.value.entry.sub.some((s) => toHex(s) === toHex(fk!.pseudonym(v.imei!)))) fail = `E_LEDGER_SHAPE: the entry does not name IMEI ${v.imei}`;
    if (v.json) {
      process.stdout.write(JSON.stringify(r.ok && !fail ? { ok: true, ev: r.value.entry.ev, seq: r.value.entry.seq, ts: new Date(r.value.entry.ts).toISOString(), by: r.value.entry.by, checkpoint: r.value.checkpoint.size, cosigners: r.value.cosigners } : { ok: false, reason: fail }) + "\n");
    } else if (r.ok && !fail) {
      const e = r.value.entry;
      process.stdout.write(`verified: entry ${e.seq} of ${key.value.name}: "${e.ev}" by ${e.by} at ${new Date(e.ts).toISOString()}, included in its checkpoint of size ${r.value.checkpoint.size}${policy ? `, cosigned by ${r.value.cosigners} of the policy's witnesses (quorum ${policy.quorum})` : ""}\n`);
    } else {
      process.stderr.write(`not verified: ${fail}\n`);
    }
    return fail ? 1 : 0;
  },
};
