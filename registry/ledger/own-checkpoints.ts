// This registry's own C2SP checkpoints (docs/LEDGER.md §7.1-7.2): signed (a signed note by the
// registry key, key name = origin) for its latest tree head, then cosigned by the configured
// witnesses (witness-client.ts) and published, retained, on at/v1/ledger/<log>/checkpoint. One
// cosigning round at a time; a head signed meanwhile gets the next round.
import type { Logger } from "../../agent/log.js";
import type { GroupCommit } from "../group-commit.js";
import type { Signer } from "../../attestation/cose/sign1.js";
import { signCheckpoint } from "./checkpoint.js";
import { ed25519NoteSigner, type NoteSigner } from "./note.js";
import type { SignedTreeHead } from "./tree-head.js";
import type { WitnessClient } from "./witness-client.js";

export class OwnCheckpoints {
  readonly #signer: NoteSigner;
  #signed: { size: number; note: string } | undefined;
  #cosigned: { size: number; note: string; cosignatures: number } | undefined;
  #running = false;
  #again = false;

  constructor(
    readonly o: {
      readonly origin: string;
      readonly signer: Signer;
      /** The latest signed tree head (signing one if the log grew). */
      readonly head: () => SignedTreeHead;
      readonly witnesses: WitnessClient | undefined;
      /** Publishes the checkpoint, retained (undefined: no federation link). */
      readonly publish: ((note: Uint8Array) => Promise<void>) | undefined;
      readonly gc: GroupCommit;
      readonly log: Logger;
      readonly logHex: string;
      readonly track: (p: Promise<unknown>) => void;
      readonly stopped: () => boolean;
    },
  ) {
    this.#signer = ed25519NoteSigner(o.origin, o.signer);
  }

  /** The latest tree head as a checkpoint (signed once per size). */
  latest(): { head: SignedTreeHead; note: string } {
    const head = this.o.head();
    if (this.#signed?.size !== head.size) this.#signed = { size: head.size, note: signCheckpoint({ origin: this.o.origin, size: head.size, root: head.root }, [this.#signer]) };
    return { head, note: this.#signed.note };
  }

  /** The last checkpoint with the cosignatures collected for it. */
  cosigned(): { size: number; note: string; cosignatures: number } | undefined {
    return this.#cosigned;
  }

  /** Starts a cosigning round for the latest head (or marks one to follow the running round). */
  schedule(): void {
    const o = this.o;
    if (o.stopped() || (!o.publish && !o.witnesses)) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = true;
    o.track(
      (async () => {
        try {
          do {
            this.#again = false;
            const { head, note } = await o.gc.run(() => this.latest());
            const lines = o.witnesses ? await o.witnesses.cosign(note, head.size) : [];
            const full = note + lines.join("");
            this.#cosigned = { size: head.size, note: full, cosignatures: lines.length };
            o.log.log("info", "ledger.checkpoint", { log: o.logHex, size: head.size, cosignatures: lines.length });
            await o.publish?.(new TextEncoder().encode(full));
          } while (this.#again && !o.stopped());
        } finally {
          this.#running = false;
        }
      })(),
    );
  }
}
