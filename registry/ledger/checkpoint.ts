// Checkpoints (C2SP tlog-checkpoint v1.0.0): a signed note (note.ts) whose text is
//   <origin>\n<tree size, decimal, no leading zero>\n<base64 RFC 6962 / 9162 root hash>\n[extension lines]
// A registry signs one for each of its tree heads, with the same Ed25519 key as its COSE heads
// (the note text is ASCII and never a COSE Sig_structure, so the two cannot be confused), under
// the key name = the origin (tlog-checkpoint "Signatures": the key name SHOULD match the origin).
import { toHex } from "../../attestation/index.js";
import { accept, refuse, type Checked } from "./errors.js";
import { HASH_BYTES } from "./merkle.js";
import { isKeyName, openNote, signNote, type NoteSigner, type NoteVerifier, type OpenedNote } from "./note.js";

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
  readonly extensions?: readonly string[];
}

/** The default origin of a registry's log: schema-less, no space or "+" (tlog-checkpoint §1). */
export function defaultOrigin(logHex: string): string {
  return `antitheft.ledger/${logHex}`;
}

export function checkpointText(c: Checkpoint): string {
  if (!isKeyName(c.origin) || !Number.isSafeInteger(c.size) || c.size < 0 || c.root.length !== HASH_BYTES) throw new RangeError("a checkpoint needs an origin, a size and a 32-byte root");
  for (const e of c.extensions ?? []) if (e.length === 0 || /[\n\u0000-\u001f]/.test(e)) throw new RangeError("an extension line is non-empty, one line");
  return [c.origin, String(c.size), Buffer.from(c.root).toString("base64"), ...(c.extensions ?? [])].join("\n") + "\n";
}

/** Parses a checkpoint's note text. Never throws. */
export function parseCheckpointText(text: string): Checked<Checkpoint> {
  const lines = text.endsWith("\n") ? text.slice(0, -1).split("\n") : [];
  if (lines.length < 3 || lines.some((l) => l.length === 0)) return refuse("E_LEDGER_SHAPE", "a checkpoint is at least three non-empty lines");
  const [origin, size, root, ...extensions] = lines as [string, string, string, ...string[]];
  if (!/^(0|[1-9][0-9]{0,15})$/.test(size) || !Number.isSafeInteger(Number(size))) return refuse("E_LEDGER_SHAPE", "the tree size is decimal with no leading zero");
  const hash = /^[A-Za-z0-9+/]{43}=$/.test(root) ? new Uint8Array(Buffer.from(root, "base64")) : undefined;
  if (!hash || hash.length !== HASH_BYTES || Buffer.from(hash).toString("base64") !== root) return refuse("E_LEDGER_SHAPE", "the root hash is the base64 of 32 bytes");
  return accept({ origin, size: Number(size), root: hash, extensions });
}

export function signCheckpoint(c: Checkpoint, signers: readonly NoteSigner[]): string {
  return signNote(checkpointText(c), signers);
}

/** Opens a checkpoint note signed by `log` (and maybe others), with the origin expected. Never throws. */
export function openCheckpoint(note: string | Uint8Array, log: NoteVerifier, origin: string, others: readonly NoteVerifier[] = []): Checked<{ checkpoint: Checkpoint; note: OpenedNote }> {
  const n = openNote(note, [log, ...others]);
  if (!n.ok) return n;
  const c = parseCheckpointText(n.value.text);
  if (!c.ok) return c;
  if (c.value.origin !== origin) return refuse("E_LEDGER_LOG", `the checkpoint's origin is "${c.value.origin}", not "${origin}"`);
  if (!n.value.verified.some((s) => s.name === log.name && s.id === toHex(log.id))) return refuse("E_LEDGER_LOG", "the checkpoint is not signed by the log");
  return accept({ checkpoint: c.value, note: n.value });
}
