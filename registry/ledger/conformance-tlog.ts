// REQ-LG-10 (docs/LEDGER.md §7.1-7.2, docs/CONFORMANCE.md): the registry's log in the C2SP
// formats, checked over HTTP and MQTT only: its checkpoint opens under its key with its origin as
// key name, its tiles agree with each other and with its signed entries and rebuild the
// checkpoint's root, and a checkpoint at least as large is retained on its checkpoint topic.
import { equalBytes } from "../../attestation/bytes.js";
import { kidOfPublic, publicKeyFromRaw, toHex } from "../../attestation/index.js";
import { verifyEntry } from "./entry.js";
import { LEDGER_PREFIX } from "./http.js";
import { leafHash, MemoryTree } from "./merkle.js";
import { ed25519NoteVerifier } from "./note.js";
import { openCheckpoint } from "./checkpoint.js";
import { parseEntryBundle, tilePath, tilesOf } from "./tiles.js";
import { ledgerTopic } from "./topics.js";
import { eventually, type CheckResult, type SimulatedPeer } from "./conformance.js";

/**
 * REQ-LG-10: the registry's checkpoint (HTTP and its retained MQTT topic) opens under its key,
 * its tiles are consistent with each other and with the signed entries of the JSON API, and
 * rebuild the checkpoint's root.
 */
export async function checkTlog(registryUrl: string, publicKey: Uint8Array, watcher: SimulatedPeer, timeoutMs = 5000): Promise<CheckResult> {
  const fail = (detail: string): CheckResult => ({ id: "REQ-LG-10", ok: false, detail });
  const base = `${registryUrl}${LEDGER_PREFIX}tlog/`;
  const get = async (p: string) => {
    const r = await fetch(base + p, { signal: AbortSignal.timeout(10_000) });
    return { status: r.status, body: new Uint8Array(await r.arrayBuffer()) };
  };
  const cpr = await get("checkpoint");
  if (cpr.status !== 200) return fail(`GET tlog/checkpoint answered ${cpr.status}`);
  const text = new TextDecoder().decode(cpr.body);
  const origin = text.split("\n")[0] ?? "";
  let verifier;
  try {
    verifier = ed25519NoteVerifier(origin, publicKey);
  } catch {
    return fail(`the checkpoint's origin "${origin}" is not a note key name`);
  }
  const cp = openCheckpoint(cpr.body, verifier, origin);
  if (!cp.ok) return fail(`the checkpoint does not open under the registry's key with its origin as key name: ${cp.reason}`);
  const { size, root } = cp.value.checkpoint;
  if (size === 0) return fail("the checkpoint is of an empty log");
  // Tiles: bundles vs level-0 tiles vs the JSON API's signed entries; higher tiles vs the full tiles below.
  const tiles = new Map<string, Uint8Array>();
  for (const t of tilesOf(size)) {
    const r = await get(tilePath(t));
    if (r.status !== 200) return fail(`GET tlog/${tilePath(t)} answered ${r.status}`);
    tiles.set(tilePath(t), r.body);
  }
  const leaves: Uint8Array[] = [];
  const key = publicKeyFromRaw(publicKey);
  for (const t of tilesOf(size)) {
    if (t.kind !== "entries") continue;
    const bundle = parseEntryBundle(tiles.get(tilePath(t))!);
    const level0 = tiles.get(tilePath({ kind: "hash", level: 0, n: t.n, width: t.width }))!;
    if (!bundle.ok || bundle.value.length !== t.width) return fail(`entry bundle ${tilePath(t)} is not ${t.width} length-prefixed entries`);
    for (const [i, e] of bundle.value.entries()) {
      const h = leafHash(e);
      if (!equalBytes(h, level0.subarray(32 * i, 32 * i + 32))) return fail(`entry ${t.n * 256 + i} of ${tilePath(t)} does not hash to its level-0 tile`);
      const v = verifyEntry(e, key, kidOfPublic(publicKey));
      if (!v.ok || v.value.seq !== t.n * 256 + i) return fail(`entry ${t.n * 256 + i} of the bundles is not the registry's signed entry at that position`);
      leaves.push(h);
    }
  }
  for (const t of tilesOf(size)) {
    if (t.kind !== "hash" || t.level === 0) continue;
    const tile = tiles.get(tilePath(t))!;
    for (let i = 0; i < t.width; i++) {
      const below = tiles.get(tilePath({ kind: "hash", level: t.level - 1, n: t.n * 256 + i, width: 256 }));
      if (!below || !equalBytes(new MemoryTree(Array.from({ length: 256 }, (_, j) => below.subarray(32 * j, 32 * j + 32))).root(), tile.subarray(32 * i, 32 * i + 32))) return fail(`hash ${i} of ${tilePath(t)} is not the root of the full tile below`);
    }
  }
  if (!equalBytes(new MemoryTree(leaves).root(), root)) return fail(`the ${size} leaves of the tiles do not reproduce the checkpoint's root`);
  // The same checkpoint (or a newer one) retained on the MQTT topic.
  const w = await watcher.watch(ledgerTopic(toHex(kidOfPublic(publicKey)), "checkpoint"));
  try {
    const got = await eventually(async () => w.got.some((x) => {
      const c = openCheckpoint(x, verifier, origin);
      return c.ok && c.value.checkpoint.size >= size;
    }), timeoutMs);
    if (!got) return fail(`no checkpoint of size >= ${size} signed by the registry is retained on at/v1/ledger/<log>/checkpoint`);
  } finally {
    await w.stop();
  }
  return { id: "REQ-LG-10", ok: true, detail: `checkpoint of ${size} entries (origin ${origin}) verifies; ${tiles.size} tiles agree with the signed entries and rebuild its root; retained on MQTT` };
}
