// The auditor over the C2SP formats (docs/LEDGER.md §8.1): follows a log served as tlog-tiles -
// by a registry (/antitheft/v1/ledger/tlog/) or by any static server (antitheft ledger
// export-tiles) - with only its checkpoint key (and a witness policy, optionally):
//  1. the checkpoint opens under the key, origin = key name; with a policy, a quorum of witness
//     cosignatures (below it: a warning, the run still audits);
//  2. never backwards: a checkpoint smaller than the saved one is stale (warning), the saved one
//     is kept; the same size with another root is a fork;
//  3. the entry bundles since the saved size - each entry signed by the log at its position, each
//     hashing to its level-0 tile - extend the saved compact range to exactly the checkpoint's
//     root (E_LEDGER_INCONSISTENT after a saved state, E_LEDGER_ROOT on a first run).
// Transport is injected (fetch). Nothing fetched is trusted without the signature or the root.
import { kidOfPublic, publicKeyFromRaw, toHex } from "../../attestation/index.js";
import { equalBytes } from "../../attestation/bytes.js";
import { CompactRange } from "./compact-range.js";
import { openCheckpoint } from "./checkpoint.js";
import { verifyEntry } from "./entry.js";
import type { LedgerErrorCode } from "./errors.js";
import { leafHash } from "./merkle.js";
import type { NoteVerifier } from "./note.js";
import { parseEntryBundle, tilePath, TILE_WIDTH } from "./tiles.js";
import { cosignersIn, type WitnessPolicy } from "./witness-policy.js";

export interface TlogTarget {
  /** The tlog-tiles prefix, e.g. https://registry.example/antitheft/v1/ledger/tlog/ */
  readonly prefix: string;
  readonly key: NoteVerifier & { readonly publicKey: Uint8Array };
}

export interface TlogState {
  readonly size: number;
  readonly root: string;
  readonly frontier: readonly string[];
}

export interface TlogFinding {
  readonly level: "ok" | "warn" | "fail";
  readonly code: LedgerErrorCode | "OK";
  readonly log: string;
  readonly message: string;
}

export async function auditTlog(t: TlogTarget, saved: TlogState | undefined, o: { fetch?: typeof fetch; policy?: WitnessPolicy; timeoutMs?: number } = {}): Promise<{ findings: TlogFinding[]; state: TlogState | undefined }> {
  const doFetch = o.fetch ?? fetch;
  const log = t.key.name;
  const findings: TlogFinding[] = [];
  const note = (level: TlogFinding["level"], code: TlogFinding["code"], message: string) => findings.push({ level, code, log, message });
  const base = t.prefix.endsWith("/") ? t.prefix : `${t.prefix}/`;
  const get = async (p: string): Promise<Uint8Array> => {
    const r = await doFetch(base + p, { signal: AbortSignal.timeout(o.timeoutMs ?? 15_000) });
    if (r.status !== 200) throw new Error(`${base}${p}: ${r.status}`);
    return new Uint8Array(await r.arrayBuffer());
  };
  let cpBytes: Uint8Array;
  try {
    cpBytes = await get("checkpoint");
  } catch (e) {
    note("fail", "E_LEDGER_UNREACHABLE", (e as Error).message);
    return { findings, state: saved };
  }
  const cp = openCheckpoint(cpBytes, t.key, t.key.name, o.policy?.cosigners ?? []);
  if (!cp.ok) {
    note("fail", cp.code, `the checkpoint does not verify under ${t.key.name}: ${cp.reason}`);
    return { findings, state: saved };
  }
  const { size, root } = cp.value.checkpoint;
  if (o.policy) {
    const n = cosignersIn(cp.value.note, o.policy);
    if (n < o.policy.quorum) note("warn", "E_LEDGER_INCONSISTENT", `the checkpoint of size ${size} has ${n} of the ${o.policy.quorum} witness cosignatures the policy requires`);
  }
  if (saved && size < saved.size) {
    note("warn", "E_LEDGER_STALE", `the checkpoint of size ${size} is older than the one of size ${saved.size} seen before: the newer is kept`);
    return { findings, state: saved };
  }
  if (saved && size === saved.size && toHex(root) !== saved.root) {
    note("fail", "E_LEDGER_FORK", `two checkpoints of size ${size} with different roots`);
    return { findings, state: saved };
  }
  const range = saved ? new CompactRange(saved.size, saved.frontier.map((h) => new Uint8Array(Buffer.from(h, "hex")))) : new CompactRange();
  const key = publicKeyFromRaw(t.key.publicKey);
  const logId = kidOfPublic(t.key.publicKey);
  let failed = false;
  try {
    for (let n = Math.floor(range.size / TILE_WIDTH); n * TILE_WIDTH < size && !failed; n++) {
      const width = Math.min(TILE_WIDTH, size - n * TILE_WIDTH);
      const bundle = parseEntryBundle(await get(tilePath({ kind: "entries", n, width })));
      const tile = await get(tilePath({ kind: "hash", level: 0, n, width }));
      if (!bundle.ok || bundle.value.length !== width || tile.length !== 32 * width) {
        note("fail", "E_LEDGER_SHAPE", `entry bundle or level-0 tile ${n} is not ${width} wide`);
        failed = true;
        break;
      }
      for (let i = 0; i < width; i++) {
        const seq = n * TILE_WIDTH + i;
        const e = bundle.value[i]!;
        if (!equalBytes(leafHash(e), tile.subarray(32 * i, 32 * i + 32))) {
          note("fail", "E_LEDGER_INCLUSION", `entry ${seq} does not hash to its level-0 tile`);
          failed = true;
          break;
        }
        if (seq < range.size) continue; // before the saved state: already verified
        const v = verifyEntry(e, key, logId);
        if (!v.ok || v.value.seq !== seq) {
          note("fail", v.ok ? "E_LEDGER_SEQ" : v.code, `entry ${seq}: ${v.ok ? `it says it is entry ${v.value.seq}` : v.reason}`);
          failed = true;
          break;
        }
        range.append(e);
      }
    }
  } catch (e) {
    note("fail", "E_LEDGER_UNREACHABLE", (e as Error).message);
    return { findings, state: saved };
  }
  if (failed) return { findings, state: saved };
  if (!equalBytes(range.root(), root)) {
    note("fail", saved ? "E_LEDGER_INCONSISTENT" : "E_LEDGER_ROOT", saved ? `the entries since size ${saved.size} do not extend the saved tree to the checkpoint's root: not an append-only extension` : "the entries do not reproduce the checkpoint's root");
    return { findings, state: saved };
  }
  note("ok", "OK", `${base}: checkpoint of ${size} entries verified${saved ? `, an extension of the one of size ${saved.size}` : ""}${o.policy ? `, ${cosignersIn(cp.value.note, o.policy)} witness cosignatures` : ""}`);
  return { findings, state: { size, root: toHex(root), frontier: range.hashes.map(toHex) } };
}
