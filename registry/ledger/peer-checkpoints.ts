// Peers' C2SP checkpoints on at/v1/ledger/<log>/checkpoint (docs/LEDGER.md §7.2), as a member
// receives them: every one, signed by the peer under its origin, is compared with the mirror once
// the mirror reaches its size (a root the peer's own signed entries do not give is an E_LEDGER_ROOT
// alarm: two views); with a witness policy, one carrying the quorum of cosignatures makes its size
// the log's witnessed size, below which the peer's flags (and clears) count. In memory: after a
// restart the retained checkpoint brings it back.
import type { Logger } from "../../agent/log.js";
import type { Clock } from "../context.js";
import type { GroupCommit } from "../group-commit.js";
import { equalBytes } from "../../attestation/bytes.js";
import { openCheckpoint } from "./checkpoint.js";
import type { Checked } from "./errors.js";
import { accept } from "./errors.js";
import type { LedgerDb } from "./ledger-db.js";
import type { KnownLog } from "./ledger.js";
import type { PeerFlag, PeerFlagRow } from "./flag-tables.js";
import { cosignersIn, type WitnessPolicy } from "./witness-policy.js";

/** Peer checkpoints beyond the mirror kept for comparison, per log (a bound on what a peer makes us hold). */
export const MAX_PENDING_CHECKPOINTS = 8;

interface Pending {
  readonly size: number;
  readonly root: Uint8Array;
  readonly note: Uint8Array;
}

export class PeerCheckpoints {
  readonly #witnessed = new Map<string, number>();
  readonly #quorum = new Map<string, Pending>();
  readonly #roots = new Map<string, Pending[]>();

  constructor(
    readonly o: {
      readonly db: LedgerDb;
      readonly policy: WitnessPolicy | undefined;
      readonly log: Logger;
      readonly gc: GroupCommit;
      readonly clock: Clock;
      readonly track: (p: Promise<unknown>) => void;
    },
  ) {}

  /** Handles a checkpoint of a peer's log: a refusal when it does not open (the caller logs it). Never throws. */
  receive(L: KnownLog, payload: Uint8Array): Checked<void> {
    const policy = this.o.policy;
    const c = openCheckpoint(payload, L.note, L.origin, policy?.cosigners ?? []);
    if (!c.ok) return c;
    const { size, root } = c.value.checkpoint;
    const p: Pending = { size, root, note: new Uint8Array(payload) };
    // The smallest sizes are kept: far-future checkpoints cannot crowd out those about to be checked.
    this.#roots.set(L.hex, [...(this.#roots.get(L.hex) ?? []), p].sort((a, b) => a.size - b.size).slice(0, MAX_PENDING_CHECKPOINTS));
    if (policy) {
      const n = cosignersIn(c.value.note, policy);
      if (n < policy.quorum) this.o.log.log("info", "ledger.checkpoint-below-quorum", { log: L.hex, size, cosigners: n, quorum: policy.quorum });
      else if (size > Math.max(this.#quorum.get(L.hex)?.size ?? -1, this.witnessedSize(L.hex))) this.#quorum.set(L.hex, p);
    }
    this.settle(L);
    return accept(undefined);
  }

  /** Compares the checkpoints the mirror has reached with it; a quorum-cosigned one that matches is witnessed. */
  settle(L: KnownLog): void {
    const { db } = this.o;
    const held = db.logs.size(L.row.id);
    const roots = this.#roots.get(L.hex) ?? [];
    for (const r of roots.filter((x) => x.size <= held)) {
      if (!equalBytes(db.tree.root(L.row.id, r.size), r.root)) this.#alarm(L, r, `a checkpoint of size ${r.size} signed by the log names a root its signed entries do not reproduce: two views`);
    }
    const later = roots.filter((x) => x.size > held);
    if (later.length) this.#roots.set(L.hex, later);
    else this.#roots.delete(L.hex);
    const p = this.#quorum.get(L.hex);
    if (!p || held < p.size) return;
    this.#quorum.delete(L.hex);
    if (!equalBytes(db.tree.root(L.row.id, p.size), p.root)) return this.#alarm(L, p, `a checkpoint of size ${p.size} cosigned by a quorum names a root the mirrored entries do not reproduce`);
    if (p.size > this.witnessedSize(L.hex)) {
      this.#witnessed.set(L.hex, p.size);
      this.o.log.log("info", "ledger.witnessed", { log: L.hex, name: L.row.name, size: p.size });
    }
  }

  witnessedSize(hex: string): number {
    return this.#witnessed.get(hex) ?? 0;
  }

  /** The policy's gate: a raise counts below the witnessed size; its clear lifts it only once below it too (never with an alarm). */
  gate(rows: readonly PeerFlagRow[]): PeerFlag[] {
    return rows
      .filter((r) => {
        const w = this.witnessedSize(r.log);
        return r.seq < w && (r.clearedSeq === null || r.alarmed || r.clearedSeq >= w);
      })
      .map(({ clearedSeq: _c, alarmed: _a, ...f }) => f);
  }

  #alarm(L: KnownLog, p: Pending, detail: string): void {
    const { db, gc, clock, log } = this.o;
    this.o.track(
      gc.run(() => db.alarms.add(L.row.id, "E_LEDGER_ROOT", p.size, p.note, new Uint8Array(0), detail, clock.now())).then((isNew) => {
        if (isNew) log.log("error", "ledger.alarm", { log: L.hex, name: L.row.name, code: "E_LEDGER_ROOT", size: p.size, detail });
      }),
    );
  }
}
