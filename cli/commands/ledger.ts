// `antitheft ledger export-tiles`: copies a registry's log, in the C2SP tlog-tiles layout
// (docs/LEDGER.md §7.1), into a folder any static web server (or object store) can serve: the
// checkpoint and every hash tile and entry bundle of its size. The checkpoint is written last,
// and only after it verifies under --vkey (when given), so a folder never names a tree it lacks.
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Command } from "../command.js";
import { CliError } from "../command.js";
import { parseFlags } from "./device-common.js";
import { parseVerifierKey } from "../../registry/ledger/note.js";
import { openCheckpoint, parseCheckpointText } from "../../registry/ledger/checkpoint.js";
import { parseNote } from "../../registry/ledger/note.js";
import { tilePath, tilesOf } from "../../registry/ledger/tiles.js";
import { TLOG_PREFIX } from "../../registry/ledger/tlog-http.js";
import { LEDGER_PREFIX } from "../../registry/ledger/http.js";

const usage = `Usage: antitheft ledger export-tiles --registry http://HOST:PORT --dir DIR [--vkey KEY]

Writes the registry's own log as static files in the C2SP tlog-tiles layout (docs/LEDGER.md §7.1):
DIR/checkpoint, DIR/tile/<L>/<N>[.p/<W>] and DIR/tile/entries/<N>[.p/<W>]. Serve DIR with any
static server; tlog clients (and antitheft audit) read it like the registry's own tlog prefix.

  --registry  the registry's base URL (its tiles are under ${TLOG_PREFIX})
  --dir       the folder to write (created if absent; existing tiles are overwritten)
  --vkey      the log's note verifier key (<origin>+<key ID>+<base64 key>, printed by
              antitheft registry at start): the checkpoint must verify under it

Exit status: 0 written, 1 the registry failed or its checkpoint does not verify, 2 usage.`;

async function fetchBytes(url: string): Promise<Uint8Array> {
  let r: Response;
  try {
    r = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  } catch (e) {
    throw new CliError("E_UNREACHABLE", `${url}: ${(e as Error).message}`);
  }
  if (r.status !== 200) throw new CliError("E_UNREACHABLE", `${url}: ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

function writeAtomic(path: string, body: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, body);
  renameSync(`${path}.tmp`, path);
}

export const exportTiles: Command = {
  path: ["ledger", "export-tiles"],
  summary: "write a registry's log as static C2SP tlog-tiles files",
  usage,
  async run(argv) {
    const v = parseFlags(argv, { registry: { type: "string" }, dir: { type: "string" }, vkey: { type: "string" } }, usage);
    if (!v.registry || !/^https?:\/\/[^/]+/.test(v.registry)) throw new CliError("E_USAGE", `--registry must be an http(s) URL\n\n${usage}`, 2);
    if (!v.dir) throw new CliError("E_USAGE", `--dir is required\n\n${usage}`, 2);
    const vkey = v.vkey === undefined ? undefined : parseVerifierKey(v.vkey);
    if (vkey && !vkey.ok) throw new CliError("E_USAGE", `--vkey: ${vkey.reason}`, 2);
    const base = new URL(TLOG_PREFIX, v.registry).toString();
    const note = await fetchBytes(`${base}checkpoint`);
    let size: number;
    if (vkey?.ok) {
      const c = openCheckpoint(note, vkey.value, vkey.value.name);
      if (!c.ok) throw new CliError(c.code, `the checkpoint does not verify under --vkey: ${c.reason}`);
      size = c.value.checkpoint.size;
    } else {
      const n = parseNote(note);
      const c = n.ok ? parseCheckpointText(n.value.text) : n;
      if (!c.ok) throw new CliError(c.code, `the registry's checkpoint is malformed: ${c.reason}`);
      size = c.value.size;
    }
    let files = 0;
    for (const t of tilesOf(size)) {
      const p = tilePath(t);
      writeAtomic(join(v.dir, p), await fetchBytes(base + p));
      files++;
    }
    writeAtomic(join(v.dir, "checkpoint"), note);
    process.stdout.write(`wrote ${files} tiles and the checkpoint of a ${size}-entry log to ${v.dir}\n`);
    return 0;
  },
};

const proofUsage = `Usage: antitheft ledger flag-proof --registry http://HOST:PORT --index I --out flag.json

Fetches the offline proof of entry I of the registry's own log (docs/LEDGER.md §7.3): the signed
entry, its inclusion proof and the latest checkpoint covering it, with the witnesses'
cosignatures. Check it anywhere with antitheft verify-flag.`;

export const flagProof: Command = {
  path: ["ledger", "flag-proof"],
  summary: "fetch an offline proof of a flag (for antitheft verify-flag)",
  usage: proofUsage,
  async run(argv) {
    const v = parseFlags(argv, { registry: { type: "string" }, index: { type: "string" }, out: { type: "string" } }, proofUsage);
    if (!v.registry || !/^https?:\/\/[^/]+/.test(v.registry) || !v.out || !/^[0-9]{1,15}$/.test(v.index ?? "")) throw new CliError("E_USAGE", `--registry URL, --index I and --out FILE are required\n\n${proofUsage}`, 2);
    const body = JSON.parse(new TextDecoder().decode(await fetchBytes(new URL(`${LEDGER_PREFIX}flag-proof?index=${v.index}`, v.registry).toString()))) as { bundle?: unknown };
    if (!body.bundle) throw new CliError("E_UNREACHABLE", "the registry answered no bundle");
    writeAtomic(v.out, new TextEncoder().encode(JSON.stringify(body.bundle, null, 1) + "\n"));
    process.stdout.write(`wrote the proof of entry ${v.index} to ${v.out}\n`);
    return 0;
  },
};

export const ledgerCommands: Command[] = [exportTiles, flagProof];
