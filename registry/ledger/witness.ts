// A transparency-log witness (C2SP tlog-witness `add-checkpoint`, cosigning with C2SP
// tlog-cosignature): configured with the logs it follows (origin -> the log's note verifier
// keys), it keeps the latest checkpoint it cosigned per origin and cosigns a new one only when a
// consistency proof (RFC 9162 §2.1.4.2) from that checkpoint verifies. So a witness never cosigns
// two checkpoints that cannot both be true, and a log cannot get a fork cosigned by witnesses that
// saw its other branch. Status codes (tlog-witness "add-checkpoint"):
//   200 the cosignature lines; 400 malformed, or old size > size; 403 no signature by the log's
//   key verifies; 404 unknown origin; 409 old size is not the latest cosigned size (body: that
//   size, text/x.tlog.size), or same size with another root; 422 the proof does not verify.
// The check and the update are one synchronous step (JavaScript runs it to the end), persisted
// before the answer (the store is SQLite, synchronous=FULL).
import type { Logger } from "../../agent/log.js";
import { equalBytes } from "../../attestation/bytes.js";
import { parseCheckpointText } from "./checkpoint.js";
import { openNote, parseNote, type NoteSigner, type NoteVerifier } from "./note.js";
import { verifyConsistency } from "./verify.js";

export const MAX_PROOF_LINES = 63;
export const MAX_REQUEST_BYTES = 128 * 1024;

export interface WitnessedLog {
  readonly size: number;
  readonly root: Uint8Array;
}

/** Where a witness keeps the latest checkpoint it cosigned per origin (witness-store.ts). */
export interface WitnessStore {
  get(origin: string): WitnessedLog | undefined;
  put(origin: string, size: number, root: Uint8Array, note: string, at: number): void;
}

export interface WitnessAnswer {
  readonly status: 200 | 400 | 403 | 404 | 409 | 422;
  readonly type: string;
  readonly body: string;
}

const TEXT = "text/plain; charset=utf-8";

export class Witness {
  readonly #logs = new Map<string, NoteVerifier[]>();

  constructor(
    readonly o: {
      readonly cosigner: NoteSigner;
      /** The logs followed: their note verifier keys (the key name is the origin). */
      readonly logs: readonly NoteVerifier[];
      readonly store: WitnessStore;
      readonly now: () => number;
      readonly log?: Logger;
    },
  ) {
    for (const v of o.logs) this.#logs.set(v.name, [...(this.#logs.get(v.name) ?? []), v]);
  }

  /** Follows one more log (its note verifier key; the key name is its origin). */
  follow(v: NoteVerifier): void {
    this.#logs.set(v.name, [...(this.#logs.get(v.name) ?? []), v]);
  }

  /** Handles the body of POST <prefix>/add-checkpoint. Never throws on hostile input. */
  addCheckpoint(body: Uint8Array | string): WitnessAnswer {
    const bad = (status: WitnessAnswer["status"], why: string): WitnessAnswer => {
      this.o.log?.log(status === 400 ? "debug" : "warn", "witness.refused", { status, reason: why });
      return { status, type: TEXT, body: `${why}\n` };
    };
    let s: string;
    try {
      s = typeof body === "string" ? body : new TextDecoder("utf-8", { fatal: true }).decode(body);
    } catch {
      return bad(400, "the request is not UTF-8");
    }
    if (s.length > MAX_REQUEST_BYTES) return bad(400, "the request is too large");
    const m = /^old (0|[1-9][0-9]{0,15})\n/.exec(s);
    if (!m) return bad(400, 'the request starts with "old <size>"');
    const old = Number(m[1]);
    let rest = s.slice(m[0].length);
    const proof: Uint8Array[] = [];
    while (!rest.startsWith("\n")) {
      const i = rest.indexOf("\n");
      const line = i < 0 ? "" : rest.slice(0, i);
      if (!/^[A-Za-z0-9+/]{43}=$/.test(line) || proof.length >= MAX_PROOF_LINES) return bad(400, "a consistency proof line is one base64 hash; at most 63 lines, then an empty line");
      proof.push(new Uint8Array(Buffer.from(line, "base64")));
      rest = rest.slice(i + 1);
    }
    const note = rest.slice(1);
    const parsed = parseNote(note);
    if (!parsed.ok) return bad(400, `the checkpoint is not a signed note: ${parsed.reason}`);
    const cp = parseCheckpointText(parsed.value.text);
    if (!cp.ok) return bad(400, `not a checkpoint: ${cp.reason}`);
    const { origin, size, root } = cp.value;
    const keys = this.#logs.get(origin);
    if (!keys) return bad(404, `unknown log ${origin}`);
    const opened = openNote(note, keys);
    if (!opened.ok) return bad(403, `no signature by the log's key verifies: ${opened.reason}`);
    if (old > size) return bad(400, `old size ${old} is beyond the checkpoint's size ${size}`);
    const held = this.o.store.get(origin);
    const heldSize = held?.size ?? 0;
    if (old !== heldSize) {
      this.o.log?.log("info", "witness.conflict", { origin, old, held: heldSize });
      return { status: 409, type: "text/x.tlog.size", body: `${heldSize}\n` };
    }
    if (held && old === size) {
      if (!equalBytes(held.root, root) || proof.length > 0) return bad(409, `a checkpoint of size ${size} with another root than the one cosigned: a fork`);
    } else if (!held || old === 0) {
      if (proof.length > 0) return bad(422, "the proof from size 0 is empty");
    } else if (!verifyConsistency(old, size, held.root, root, proof)) {
      return bad(422, `the checkpoint of size ${size} is not proved consistent with the one of size ${old} cosigned before`);
    }
    this.o.store.put(origin, size, root, note, this.o.now());
    const sig = this.o.cosigner.sign(new TextEncoder().encode(parsed.value.text));
    return { status: 200, type: TEXT, body: `\u2014 ${this.o.cosigner.name} ${Buffer.concat([this.o.cosigner.id, sig]).toString("base64")}\n` };
  }
}
