// The registry's side of C2SP tlog-witness: for each new checkpoint of its own log it asks every
// configured witness to cosign it (POST <url>/add-checkpoint with the old size the witness last
// cosigned and an RFC 9162 consistency proof from there). A 409 tells the size the witness holds:
// the request is made again from it (once). Cosignature lines are kept only if they verify under
// the witness's configured key. Transport and time are injected; a witness that fails is logged.
import type { Logger } from "../../agent/log.js";
import { openNote } from "./note.js";
import type { Cosigner } from "./cosignature.js";

export interface WitnessTarget {
  /** The witness's submission prefix, e.g. http://witness.example:8090 */
  readonly url: string;
  readonly cosigner: Cosigner;
}

export class WitnessClient {
  readonly #known = new Map<string, number>();

  constructor(
    readonly o: {
      readonly witnesses: readonly WitnessTarget[];
      /** RFC 9162 consistency proof of this log between two sizes. */
      readonly consistency: (first: number, second: number) => Uint8Array[];
      readonly log: Logger;
      readonly fetch?: typeof fetch;
      readonly timeoutMs?: number;
    },
  ) {}

  /** Collects cosignatures of `note` (a checkpoint of `size`): the verified lines, witness by witness. */
  async cosign(note: string, size: number): Promise<string[]> {
    const all = await Promise.all(this.o.witnesses.map((w) => this.#one(w, note, size)));
    return all.flat();
  }

  async #one(w: WitnessTarget, note: string, size: number): Promise<string[]> {
    const doFetch = this.o.fetch ?? fetch;
    let old = this.#known.get(w.url) ?? 0;
    for (let attempt = 0; attempt < 2; attempt++) {
      if (old > size) {
        this.o.log.log("error", "ledger.witness-ahead", { witness: w.url, cosigned: old, size, reason: "the witness cosigned a larger tree of this log than it now has" });
        return [];
      }
      const proof = old > 0 && old < size ? this.o.consistency(old, size) : [];
      const body = `old ${old}\n${proof.map((h) => `${Buffer.from(h).toString("base64")}\n`).join("")}\n${note}`;
      let status: number;
      let text: string;
      let type: string;
      try {
        const r = await doFetch(`${w.url.replace(/\/$/, "")}/add-checkpoint`, { method: "POST", body, headers: { "content-type": "text/plain; charset=utf-8" }, signal: AbortSignal.timeout(this.o.timeoutMs ?? 5000) });
        status = r.status;
        type = r.headers.get("content-type") ?? "";
        text = await r.text();
      } catch (e) {
        this.o.log.log("warn", "ledger.witness-failed", { witness: w.url, error: String((e as Error).cause ?? (e as Error).message) });
        return [];
      }
      if (status === 409 && type.startsWith("text/x.tlog.size") && /^(0|[1-9][0-9]{0,15})\n$/.test(text)) {
        old = Number(text.trim());
        this.#known.set(w.url, old);
        continue;
      }
      if (status !== 200) {
        this.o.log.log("warn", "ledger.witness-refused", { witness: w.url, status, size, old, reason: text.slice(0, 200).trim() });
        return [];
      }
      const opened = openNote(note + text, [w.cosigner]);
      if (!opened.ok) {
        this.o.log.log("warn", "ledger.witness-bad-cosignature", { witness: w.url, reason: opened.reason });
        return [];
      }
      this.#known.set(w.url, size);
      return opened.value.verified.map((s) => `\u2014 ${s.name} ${s.base64}\n`);
    }
    return [];
  }
}
