// `antitheft witness`: a C2SP tlog-witness for registries' ledgers (docs/LEDGER.md §7.2): it
// cosigns a registry's checkpoint only if it is consistent with the last one it cosigned, so no
// registry can show two histories that both carry its cosignature. State: one SQLite file.
import type { Command } from "../command.js";
import { CliError } from "../command.js";
import { parseFlags } from "./device-common.js";
import { keygenCommand } from "./registry.js";
import { loadSigningKey } from "../../registry/keys.js";
import { RegistryError } from "../../registry/errors.js";
import { textLogger } from "../../registry/text-log.js";
import { parseVerifierKey, type NoteVerifier } from "../../registry/ledger/note.js";
import { cosignatureSigner, cosignerKey } from "../../registry/ledger/cosignature.js";
import { Witness } from "../../registry/ledger/witness.js";
import { SqliteWitnessStore } from "../../registry/ledger/witness-store.js";
import { serveWitness } from "../../registry/ledger/witness-http.js";

const usage = `Usage: antitheft witness --key witness.key --name NAME --db witness.sqlite --log VKEY [--log VKEY ...]
                         [--http 127.0.0.1:8090] [--prefix /]

Runs a transparency-log witness (C2SP tlog-witness) for the registries' ledgers: POST
<prefix>/add-checkpoint with an old size, a consistency proof and a checkpoint answers a
cosignature (C2SP tlog-cosignature, cosignature/v1) when the checkpoint is signed by a log it
follows and consistent with the last one it cosigned for that log (409 / 422 otherwise).

  --key     the witness's Ed25519 key (antitheft witness keygen)
  --name    its cosigner name, a schema-less URL such as witness.example.net/w1
  --db      its state: the latest checkpoint cosigned per log (created if absent)
  --log     a log it follows: the registry's checkpoint key (<origin>+<id>+<key>, printed by
            antitheft registry at start); repeat for several logs
  --http    HOST:PORT to listen on (default 127.0.0.1:8090; port 0 = any)
  --prefix  the submission prefix (default none)

Prints its cosigner key (<name>+<id>+<key>) for the registries' witness policies. Stops on
SIGINT or SIGTERM.`;

export const witnessKeygen = keygenCommand("witness", "generate a witness's cosigning key pair (PEM)", "Generates a transparency-log witness's Ed25519 cosigning key.");

export const witnessRun: Command = {
  path: ["witness"],
  summary: "run a C2SP tlog-witness that cosigns registries' checkpoints",
  usage,
  async run(argv) {
    const v = parseFlags(argv, { key: { type: "string" }, name: { type: "string" }, db: { type: "string" }, log: { type: "string", multiple: true }, http: { type: "string" }, prefix: { type: "string" } }, usage);
    if (!v.key || !v.name || !v.db || !v.log?.length) throw new CliError("E_USAGE", `--key, --name, --db and at least one --log are required\n\n${usage}`, 2);
    const logs: NoteVerifier[] = v.log.map((k) => {
      const p = parseVerifierKey(k);
      if (!p.ok) throw new CliError("E_USAGE", `--log ${k}: ${p.reason}`, 2);
      return p.value;
    });
    const m = /^(.*):(\d{1,5})$/.exec(v.http ?? "127.0.0.1:8090");
    if (!m || !m[1]) throw new CliError("E_USAGE", "--http must be HOST:PORT", 2);
    let key;
    try {
      key = loadSigningKey(v.key);
    } catch (e) {
      throw new CliError(e instanceof RegistryError ? e.code : "E_FILE", (e as Error).message);
    }
    let cosigner;
    try {
      cosigner = cosignatureSigner(v.name, key.signer, Date.now);
    } catch (e) {
      throw new CliError("E_USAGE", `--name: ${(e as Error).message}`, 2);
    }
    const store = new SqliteWitnessStore(v.db);
    const log = textLogger((line: string) => void process.stdout.write(line), "text");
    const w = new Witness({ cosigner, logs, store, now: Date.now, log });
    const server = await serveWitness(w, { host: m[1], port: Number(m[2]), ...(v.prefix ? { prefix: v.prefix } : {}) });
    process.stdout.write(`antitheft witness "${v.name}" running\n  http      ${server.url}/add-checkpoint\n  cosigner  ${cosignerKey(v.name, key.publicKey)}\n  logs      ${logs.map((l) => l.name).join(", ")}\n`);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
    await server.close();
    store.close();
    return 0;
  },
};

export const witnessCommands: Command[] = [witnessKeygen, witnessRun];
