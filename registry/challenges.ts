// Challenges (PROTOCOL.md §4.2): random 32-byte nonces, single use, expiring after a TTL
// (attestation/ NonceStore), each bound to the device it was sent to: an attestation on
// `at/v1/d/<did>/attestation` must answer a nonce issued to that did. A few recent nonces are
// kept per device (a hello and a heartbeat may both have asked), and the number of devices
// tracked is bounded (least recently challenged forgotten first), so hostile hellos cannot
// grow memory without limit. Held in memory: after a restart devices are simply challenged again.
import { NonceStore, toHex } from "../attestation/index.js";
import { CHALLENGE_NONCE_BYTES } from "../agent/protocol.js";

export interface ChallengeOptions {
  readonly ttlMs?: number;
  readonly now?: () => number;
  readonly random?: (n: number) => Uint8Array;
  /** Devices tracked at once (default 200000). */
  readonly maxDevices?: number;
}

const PER_DEVICE = 4;

interface Outstanding {
  readonly hex: string;
  readonly at: number;
}

export class Challenges {
  readonly nonces: NonceStore;
  readonly ttlMs: number;
  readonly #now: () => number;
  readonly #maxDevices: number;
  readonly #byDid = new Map<string, Outstanding[]>();

  constructor(o: ChallengeOptions = {}) {
    this.ttlMs = o.ttlMs ?? 60_000;
    this.#now = o.now ?? Date.now;
    this.#maxDevices = o.maxDevices ?? 200_000;
    this.nonces = new NonceStore({
      ttlMs: this.ttlMs,
      now: this.#now,
      maxEntries: this.#maxDevices * PER_DEVICE,
      ...(o.random ? { random: o.random } : {}),
    });
  }

  /** A fresh nonce for `did`. */
  issue(did: string): Uint8Array {
    const nonce = this.nonces.issue(CHALLENGE_NONCE_BYTES);
    const now = this.#now();
    const list = (this.#byDid.get(did) ?? []).filter((o) => now - o.at <= this.ttlMs);
    list.push({ hex: toHex(nonce), at: now });
    while (list.length > PER_DEVICE) list.shift();
    this.#byDid.delete(did); // re-insert: most recently challenged last
    this.#byDid.set(did, list);
    while (this.#byDid.size > this.#maxDevices) this.#byDid.delete(this.#byDid.keys().next().value!);
    return nonce;
  }

  /** True when `nonce` was issued to `did` and not yet settled (the NonceStore judges age and reuse). */
  isFor(did: string, nonce: Uint8Array): boolean {
    const hex = toHex(nonce);
    return this.#byDid.get(did)?.some((o) => o.hex === hex) ?? false;
  }

  /** True when `did` has a challenge younger than the TTL (no need to send another). */
  hasFresh(did: string): boolean {
    const now = this.#now();
    return this.#byDid.get(did)?.some((o) => now - o.at <= this.ttlMs) ?? false;
  }

  /** Forgets the outstanding challenges of `did` (after a verified attestation). */
  settle(did: string): void {
    this.#byDid.delete(did);
  }
}
