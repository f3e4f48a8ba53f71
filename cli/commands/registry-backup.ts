// `antitheft registry backup` and `antitheft registry restore` (registry/backup.ts).
import type { Command } from "../command.js";
import { CliError } from "../command.js";
import { parseFlags, required } from "./device-common.js";
import { readConfigFile } from "../config-file.js";
import { BackupError, backupDatabase, restoreDatabase } from "../../registry/backup.js";

/** --db, or the "db" of --config FILE (the registry's configuration file). */
function dbOf(v: { db?: string | undefined; config?: string | undefined }, usage: string): string {
  if (v.db !== undefined) return v.db;
  if (v.config !== undefined) {
    const db = readConfigFile(v.config, { db: { type: "string" } }, true).db;
    if (typeof db === "string") return db;
    throw new CliError("E_USAGE", `--config ${v.config} names no "db"`, 2);
  }
  return required<string>(undefined, "db", usage);
}

function mapped<T>(f: () => Promise<T>): Promise<T> {
  return f().catch((e) => {
    if (e instanceof BackupError) throw new CliError(e.code, e.message);
    throw e;
  });
}

const backupUsage = `Usage: antitheft registry backup (--db registry.sqlite | --config registry.json) --out FILE [--force]

Writes a consistent copy of the registry's database to FILE while the registry runs (SQLite's
online backup API: a snapshot of committed transactions only). The copy is checked
(integrity_check, schema version) before it is renamed into place. An existing FILE is kept
unless --force is given. Restore it with antitheft registry restore.`;

export const registryBackup: Command = {
  path: ["registry", "backup"],
  summary: "write a consistent copy of the registry's database (online)",
  usage: backupUsage,
  async run(argv) {
    const v = parseFlags(argv, { db: { type: "string" }, config: { type: "string" }, out: { type: "string" }, force: { type: "boolean" } }, backupUsage);
    const db = dbOf(v, backupUsage);
    const out = required(v.out, "out", backupUsage);
    const { existsSync } = await import("node:fs");
    if (existsSync(out) && !v.force) throw new CliError("E_EXISTS", `${out} exists; use --force to overwrite`);
    const info = await mapped(() => backupDatabase(db, out));
    process.stdout.write(`backed up ${db} to ${info.path}: ${info.bytes} bytes, schema ${info.schema}, ${info.devices} devices\n`);
    return 0;
  },
};

const restoreUsage = `Usage: antitheft registry restore (--db registry.sqlite | --config registry.json) --from FILE

Replaces the registry's database by the backup FILE (made by antitheft registry backup). Stop the
registry first: restore refuses (E_DB_IN_USE) while any process has the database open. The backup
is checked first; the database it replaces is kept as <db>.replaced-<time>.
After a restore, commands issued after the backup are unknown to the registry. Handsets that
applied them reject a lower sequence number with a token showing their last one, and the
registry issues the same lock or unlock again above it (docs/PROTOCOL.md §4.6); no report needs
to be repeated for them. Flags and claims made after the backup are lost and must be made again.
A registry keeping a ledger (docs/LEDGER.md) must not be restored to an older log: peers would
see a fork.`;

export const registryRestore: Command = {
  path: ["registry", "restore"],
  summary: "replace the registry's database by a backup (registry stopped)",
  usage: restoreUsage,
  async run(argv) {
    const v = parseFlags(argv, { db: { type: "string" }, config: { type: "string" }, from: { type: "string" } }, restoreUsage);
    const db = dbOf(v, restoreUsage);
    const from = required(v.from, "from", restoreUsage);
    const r = await mapped(() => restoreDatabase(from, db));
    process.stdout.write(`restored ${db} from ${from}: schema ${r.info.schema}, ${r.info.devices} devices${r.keptAs ? `; the previous database is kept as ${r.keptAs}` : ""}\n`);
    return 0;
  },
};
