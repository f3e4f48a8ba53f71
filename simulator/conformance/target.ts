// What the conformance suite tests: a Target is a broker, a registry reached over HTTP, and a
// HandsetDriver that makes handsets. The suite touches nothing else: it drives handsets through
// the driver (what a test lab does with real phones: power, radio, factory reset, physical
// attacks on flash) and everything else through docs/PROTOCOL.md (MQTT and HTTP). A third-party
// agent plugs in by implementing HandsetDriver (docs/CONFORMANCE.md "Testing your agent"); a
// third-party registry by its URL and the keys it pins.
import type { Signer } from "../../attestation/cose/sign1.js";
import type { SigningKey } from "../../registry/keys.js";
import type { MqttSecurity } from "../../transport/mqtt-options.js";

/** Optional abilities a scenario may need; a target without one gets the scenario skipped. */
export type Capability =
  /** An authority key the registry pins (mass block, flag rights). */
  | "authority"
  /** A measurement the registry accepts, so an unaccepted one can be told apart. */
  | "measurement"
  /** The suite can restart the broker. */
  | "restart-broker"
  /** The suite can restart the registry. */
  | "restart-registry"
  /** The driver can read and write a handset's raw storage (sealed state, counter, endorsement). */
  | "storage-attacks"
  /**
   * The registry keeps the tamper-evident ledger and federates with the suite's simulated member
   * registries: it pins their keys as ledger peers and holds the federation key (docs/LEDGER.md).
   */
  | "ledger"
  /** The suite can rewrite a row of the registry's stored log, as an attacker with SQL access. */
  | "ledger-storage"
  /** A second OEM key the registry pins for given TAC ranges only (PROTOCOL §6.1). */
  | "oem-ranges";

export interface ProvisionSpec {
  readonly imei: string;
  readonly imei2?: string;
  readonly model: string;
  /** The OEM factory key that endorses the handset. */
  readonly oem: Signer;
  /** Registry public keys (raw Ed25519, 32 bytes) the Trusted App will trust for commands. */
  readonly registryKeys: readonly Uint8Array[];
  /** Host-reported agent/firmware digest put in attestations (default: the target's accepted one). */
  readonly measurement?: Uint8Array;
}

/** Enforcement as the user sees it. */
export interface Screen {
  readonly locked: boolean;
  /** The lock-screen text (message and contact), "" when unlocked. */
  readonly text: string;
}

export interface EnforcementRecord {
  /** Absolute time, ms (performance.timeOrigin + performance.now()). */
  readonly at: number;
  readonly action: "lock" | "unlock" | "message";
}

/** A snapshot of a handset's raw storage, as an attacker with a flash programmer takes it. */
export interface StorageSnapshot {
  readonly sealed: Uint8Array;
  readonly counter: number;
}

export interface StorageAttacks {
  snapshot(): Promise<StorageSnapshot>;
  /** Writes the snapshot's sealed blob back; with `counter` also the replay-protected counter. */
  restore(s: StorageSnapshot, options: { counter: boolean }): Promise<void>;
  /** Flips one bit of the sealed blob. */
  corruptSealed(): Promise<void>;
  /** Replaces the stored OEM endorsement (a forged or second endorsement). */
  writeEndorsement(endorsement: Uint8Array): Promise<void>;
}

export interface Handset {
  readonly imei: string;
  /** The pseudonymous device id (PROTOCOL §1). */
  readonly did: string;
  /** The device attestation public key (raw Ed25519). */
  readonly devicePublic: Uint8Array;
  /** Boots: Trusted App, enforcement, then the network. Resolves once the lock state is enforced. */
  powerOn(): Promise<void>;
  /** graceful: an orderly shutdown; otherwise a power cut (the broker publishes the Will). */
  powerOff(graceful?: boolean): Promise<void>;
  /** Radio on/off. Off: no connection can be made and the current one drops. */
  setNetwork(up: boolean): void;
  readonly online: boolean;
  /** What the screen shows now; current as soon as the agent has reported a command's result. */
  screen(): Screen;
  /** Every enforcement action since provisioning, oldest first. */
  enforcement(): readonly EnforcementRecord[];
  /**
   * The user types a claim code on the handset (PROTOCOL §6.2): the handset's registration-purpose
   * attestation (EAT intuse 2) for that code, a local, user-present action, never a network one.
   */
  claimProof(code: string): Promise<Uint8Array>;
  /** Recovery-menu factory reset: wipes user data, then boots. */
  factoryReset(): Promise<void>;
  writeUserData(name: string, data: Uint8Array): Promise<void>;
  listUserData(): Promise<string[]>;
  /** Present when the driver can attack the handset's storage (Capability "storage-attacks"). */
  readonly storage?: StorageAttacks;
}

export interface HandsetDriver {
  readonly name: string;
  readonly capabilities: readonly Capability[];
  /** Factory: a new handset provisioned for `spec`, powered off. The same IMEI may come twice (clones). */
  provision(spec: ProvisionSpec): Promise<Handset>;
  /** Releases everything the driver holds (handsets are powered off by the suite first). */
  close?(): Promise<void>;
}

/** The federation the suite plays for the registry's ledger (Capability "ledger", docs/LEDGER.md §5-6). */
export interface LedgerMembership {
  /**
   * Keys of two member registries the suite plays (SimulatedPeer): the first raises and clears
   * flags, the second tries to clear them and gets forked. The registry pins both as peers.
   */
  readonly peers: readonly [SigningKey, SigningKey];
  /** The federation's pseudonymisation key (32 bytes), which the registry holds too. */
  readonly federationKey: Uint8Array;
  /**
   * On an mqtts:// broker, the two members' transport identities (ledger-link certificates, CN
   * at-l-conformance-peer-1 and -2, which deploy/mosquitto/acl-lab grants the ledger topics;
   * PROTOCOL.md §2.1). Made on first use.
   */
  readonly peerSecurity?: () => Promise<readonly [MqttSecurity, MqttSecurity]>;
}

/** A row of the registry's stored log rewritten behind its back (Capability "ledger-storage"). */
export interface LedgerTamper {
  /** What was altered, for the report. */
  readonly what: string;
  /** Puts the original row back. */
  undo(): Promise<void>;
}

/** A bulk of handsets for load (mass block): fewer handles, more of them. */
export interface FleetMember {
  readonly imei: string;
  readonly did: string;
}

export interface Fleet {
  readonly members: readonly FleetMember[];
  /** Powers every handset on; `progress` gets the number booted so far. */
  powerOn(progress?: (booted: number) => void): Promise<void>;
  /** When the handset's platform last locked (absolute ms), or undefined if it never did. */
  lockedAt(did: string): number | undefined;
  /** Powers everything off and frees it. */
  close(): Promise<void>;
}

/** Makes `imeis.length` provisioned handsets (powered off), endorsed per `spec`. */
export type FleetFactory = (imeis: readonly string[], spec: Omit<ProvisionSpec, "imei">) => Promise<Fleet>;

export interface Target {
  /** A human-readable description for reports. */
  readonly name: string;
  readonly brokerUrl: string;
  /** The harness's transport identity on an mqtts:// broker (the lab identity, PROTOCOL.md §2.1). */
  readonly brokerSecurity?: MqttSecurity;
  /** 4 = MQTT 3.1.1, 5 = MQTT 5: what the suite's own clients speak. */
  readonly mqttVersion: 4 | 5;
  /** Base URL of the registry's HTTP interface (may change across restarts). */
  registryUrl(): string;
  /** The registry's command public key (provisioned into handsets). */
  readonly registryPublic: Uint8Array;
  /** An OEM factory key the registry pins. */
  readonly oem: Signer;
  /** An authority key the registry pins (Capability "authority"). */
  readonly authority?: Signer;
  /**
   * An OEM key the registry pins for the TAC ranges that include `tac` only, not for the TACs
   * of the suite's IMEIs (Capability "oem-ranges", PROTOCOL §6.1).
   */
  readonly rangedOem?: { readonly signer: Signer; readonly tac: string };
  /** A measurement the registry accepts (Capability "measurement"). */
  readonly acceptedMeasurement?: Uint8Array;
  readonly restartBroker?: () => Promise<void>;
  readonly restartRegistry?: () => Promise<void>;
  /** The registry federates with the suite's simulated peers (Capability "ledger"). */
  readonly ledger?: LedgerMembership;
  /** Rewrites an entry of the registry's own stored log (Capability "ledger-storage"). */
  readonly tamperLedger?: () => Promise<LedgerTamper>;
  readonly driver: HandsetDriver;
  /** Bulk handsets (e.g. worker threads); default: handsets of `driver`. */
  readonly fleet?: FleetFactory;
}

/** The capabilities a target (with its driver) offers. */
export function capabilitiesOf(t: Target): Set<Capability> {
  const c = new Set<Capability>(t.driver.capabilities);
  if (t.authority) c.add("authority");
  if (t.acceptedMeasurement) c.add("measurement");
  if (t.restartBroker) c.add("restart-broker");
  if (t.restartRegistry) c.add("restart-registry");
  if (t.ledger) c.add("ledger");
  if (t.tamperLedger) c.add("ledger-storage");
  if (t.rangedOem) c.add("oem-ranges");
  return c;
}
