// The static read API of C2SP tlog-tiles, built from the RFC 9162 tree the registry stores
// (tree-store.ts): hash tiles `tile/<L>/<N>[.p/<W>]` (tile-level L holds tree-level 8L nodes:
// hash i of tile N is MTH(D[(N*256+i)*256^L : (N*256+i+1)*256^L]), 32 bytes each, 256 per full
// tile), entry bundles `tile/entries/<N>[.p/<W>]` (big-endian uint16 length-prefixed entries) and
// the `checkpoint` (checkpoint.ts). Full tiles are immutable; a partial tile of width W exists
// while its W hashes do (tlog-tiles "Partial Tiles"); empty tiles are never served.
import type { NodeReader } from "./merkle.js";
import { accept, refuse, type Checked } from "./errors.js";

export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;

export type TileRef =
  | { readonly kind: "hash"; readonly level: number; readonly n: number; readonly width: number }
  | { readonly kind: "entries"; readonly n: number; readonly width: number };

/** `<N>` as zero-padded 3-digit path elements, all but the last prefixed with "x" (1234067 -> x001/x234/067). */
export function tileIndexPath(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError("a tile index is a non-negative integer");
  const groups: string[] = [];
  do {
    groups.unshift(String(n % 1000).padStart(3, "0"));
    n = Math.floor(n / 1000);
  } while (n > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join("/");
}

export function tilePath(t: TileRef): string {
  const w = t.width === TILE_WIDTH ? "" : `.p/${t.width}`;
  return t.kind === "hash" ? `tile/${t.level}/${tileIndexPath(t.n)}${w}` : `tile/entries/${tileIndexPath(t.n)}${w}`;
}

/** Parses a tile path (relative to the prefix). Never throws. */
export function parseTilePath(path: string): Checked<TileRef> {
  const m = /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/){0,4}[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/.exec(path);
  if (!m) return refuse("E_LEDGER_SHAPE", "not a tile path: tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>]");
  const n = Number(m[2]!.replace(/x/g, "").replace(/\//g, ""));
  if (tileIndexPath(n) !== m[2]) return refuse("E_LEDGER_SHAPE", "a tile index has no leading zero group");
  const width = m[3] ? Number(m[3]) : TILE_WIDTH;
  if (width > 255 && m[3]) return refuse("E_LEDGER_SHAPE", "a partial tile is 1..255 wide");
  if (m[1] === "entries") return accept({ kind: "entries", n, width });
  const level = Number(m[1]);
  if (level > 63) return refuse("E_LEDGER_SHAPE", "a tile level is 0..63");
  return accept({ kind: "hash", level, n, width });
}

/** Leaves under one hash of a tile at `level` (256^level), or undefined beyond safe integers. */
function span(level: number): number | undefined {
  const s = TILE_WIDTH ** level;
  return Number.isSafeInteger(s) ? s : undefined;
}

/** Does the tree of `size` leaves hold every hash (or entry) of tile `t`? */
export function tileExists(t: TileRef, size: number): boolean {
  const s = t.kind === "hash" ? span(t.level) : 1;
  if (s === undefined) return false;
  const end = (t.n * TILE_WIDTH + t.width) * s;
  return Number.isSafeInteger(end) && end <= size;
}

/** The bytes of hash tile `t` of a tree of `size` leaves (undefined: not in this tree). */
export function hashTile(r: NodeReader & { nodes?(level: number, start: number, end: number): Uint8Array[] }, t: TileRef & { kind: "hash" }, size: number): Uint8Array | undefined {
  if (!tileExists(t, size)) return undefined;
  const level = t.level * TILE_HEIGHT;
  const start = t.n * TILE_WIDTH;
  const hashes = r.nodes ? r.nodes(level, start, start + t.width) : Array.from({ length: t.width }, (_, i) => r.node(level, start + i));
  if (hashes.length !== t.width) throw new Error(`ledger: tile ${tilePath(t)} lacks stored nodes`);
  const out = new Uint8Array(32 * t.width);
  hashes.forEach((h, i) => out.set(h, 32 * i));
  return out;
}

/** An entry bundle: each entry as a big-endian uint16 length and its bytes. */
export function entryBundle(entries: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(entries.reduce((a, e) => a + 2 + e.length, 0));
  let at = 0;
  for (const e of entries) {
    if (e.length > 0xffff) throw new RangeError("an entry of a bundle is at most 65535 bytes");
    out[at] = e.length >> 8;
    out[at + 1] = e.length & 0xff;
    out.set(e, at + 2);
    at += 2 + e.length;
  }
  return out;
}

/** Splits an entry bundle. Never throws. */
export function parseEntryBundle(bytes: Uint8Array): Checked<Uint8Array[]> {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (at + 2 > bytes.length) return refuse("E_LEDGER_SHAPE", "a truncated entry length");
    const n = (bytes[at]! << 8) | bytes[at + 1]!;
    if (at + 2 + n > bytes.length) return refuse("E_LEDGER_SHAPE", "a truncated entry");
    out.push(bytes.subarray(at + 2, at + 2 + n));
    at += 2 + n;
    if (out.length > TILE_WIDTH) return refuse("E_LEDGER_SHAPE", "more than 256 entries in a bundle");
  }
  return accept(out);
}

/** Every tile a static copy of a tree of `size` leaves holds: full tiles, and the partial ones of this size. */
export function* tilesOf(size: number): Generator<TileRef> {
  for (let level = 0; ; level++) {
    const s = span(level);
    if (s === undefined || s > size) break;
    const hashes = Math.floor(size / s);
    for (let n = 0; n * TILE_WIDTH < hashes; n++) {
      const width = Math.min(TILE_WIDTH, hashes - n * TILE_WIDTH);
      yield { kind: "hash", level, n, width };
      if (level === 0) yield { kind: "entries", n, width };
    }
  }
}
