// What the registry's handlers share: state, time, logging, keys, and the way out (publish).
// registry.ts builds one Context; the concept modules (enrolment, commands, requests, ...)
// are functions over it, so each can be tested with a real store and a recording publisher.
import type { OemRoots } from "../attestation/index.js";
import type { Logger } from "../agent/log.js";
import type { Store } from "./store.js";
import type { GroupCommit } from "./group-commit.js";
import type { KeySet, SigningKey } from "./keys.js";
import type { Challenges } from "./challenges.js";
import type { Ledger } from "./ledger/ledger.js";
import type { RateLimiters } from "./rate-limits.js";
import type { OemTacPolicy } from "./oem-ranges.js";
import type { RegistryMetrics } from "./metrics.js";
import type { PortalSettings } from "./webauthn.js";

/** One MQTT publication (QoS 1, PROTOCOL.md §2). */
export interface Publication {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly retain: boolean;
  /** Runs after the broker acknowledged it (PUBACK); a returned promise is awaited by `idle()`. */
  readonly onSent?: () => void | Promise<unknown>;
}

export interface Clock {
  now(): number;
}

export interface Policy {
  /** Request ts window, seconds (PROTOCOL.md §6.2: +-300). */
  readonly requestWindowS: number;
  /** Lifetime of a claim code, ms (PROTOCOL.md §6.2: default 10 minutes). */
  readonly claimCodeTtlMs: number;
  /**
   * Accepted agent measurements (claim 273 digests, lowercase hex). Empty: not checked.
   * A device reporting another digest (or none) is flagged `tampered` (GREYLISTED).
   */
  readonly acceptedMeasurements: ReadonlySet<string>;
}

export interface Context {
  readonly store: Store;
  readonly gc: GroupCommit;
  readonly clock: Clock;
  readonly log: Logger;
  readonly registryKey: SigningKey;
  readonly oemRoots: OemRoots;
  /** The TAC ranges each OEM root may endorse (oem-ranges.ts, PROTOCOL.md §6.1). */
  readonly oemTacs: OemTacPolicy;
  readonly authorities: KeySet;
  /** Outstanding challenges, in the database (shared by every worker on it). */
  readonly challenges: Challenges;
  /**
   * When this registry worker started (clock ms). A device whose last verified attestation
   * (devices.last_attested, by any worker on the database) is older is challenged on its next
   * heartbeat (presence.ts).
   */
  readonly startedAt: number;
  readonly policy: Policy;
  /** Token buckets per device id and per signer (rate-limits.ts, PROTOCOL.md §6.4). */
  readonly limits: RateLimiters;
  /** The owner portal's relying party (webauthn.ts, docs/PORTAL.md). */
  readonly portal: PortalSettings;
  /** The tamper-evident ledger (docs/LEDGER.md), when the registry keeps one. */
  readonly ledger?: Ledger;
  /** Counters and histograms for GET /metrics (metrics.ts), when the registry keeps them. */
  readonly metrics?: RegistryMetrics;
  publish(pubs: readonly Publication[]): void;
}
