// devices: one row per enrolled device key (PROTOCOL.md §1: did = hex kid of the device key).
import type { Db, Stmt } from "./util.js";
import { blob, blobOrNull, bytes, bytesOrNull } from "./util.js";

export type LockState = 0 | 1 | 2; // LwM2M Object 8 resource 0

export interface Device {
  readonly did: string;
  readonly deviceKey: Uint8Array;
  readonly endorsement: Uint8Array;
  readonly oemid: Uint8Array;
  readonly hwmodel: Uint8Array;
  readonly enrolledAt: number;
  readonly lastSeen: number;
  readonly lastAttested: number;
  readonly bootcount: number | null;
  readonly lockState: LockState;
  readonly lastSeq: number;
  readonly tampered: boolean;
  readonly measurement: Uint8Array | null;
  readonly online: boolean;
  readonly agent: string | null;
}

/** The state a verified attestation reports (docs/ATTESTATION.md claims). */
export interface AttestedState {
  readonly at: number;
  readonly bootcount: number | null;
  readonly lockState: LockState;
  readonly lastSeq: number;
  readonly tampered: boolean;
  readonly measurement: Uint8Array | null;
}

export interface NewDevice extends AttestedState {
  readonly did: string;
  readonly deviceKey: Uint8Array;
  readonly endorsement: Uint8Array;
  readonly oemid: Uint8Array;
  readonly hwmodel: Uint8Array;
}

type Row = Record<string, unknown>;

function toDevice(r: Row): Device {
  return {
    did: r.did as string,
    deviceKey: bytes(r.device_key),
    endorsement: bytes(r.endorsement),
    oemid: bytes(r.oemid),
    hwmodel: bytes(r.hwmodel),
    enrolledAt: r.enrolled_at as number,
    lastSeen: r.last_seen as number,
    lastAttested: r.last_attested as number,
    bootcount: (r.bootcount as number | null) ?? null,
    lockState: r.lock_state as LockState,
    lastSeq: r.last_seq as number,
    tampered: r.tampered === 1,
    measurement: bytesOrNull(r.measurement),
    online: r.online === 1,
    agent: (r.agent as string | null) ?? null,
  };
}

export class DeviceTable {
  readonly #get: Stmt;
  readonly #insert: Stmt;
  readonly #attested: Stmt;
  readonly #touch: Stmt;
  readonly #online: Stmt;
  readonly #agent: Stmt;
  readonly #count: Stmt;

  constructor(db: Db) {
    this.#get = db.prepare("SELECT * FROM devices WHERE did = ?");
    this.#insert = db.prepare(
      `INSERT INTO devices (did, device_key, endorsement, oemid, hwmodel, enrolled_at, last_seen, last_attested,
         bootcount, lock_state, last_seq, tampered, measurement)
       VALUES (@did, @deviceKey, @endorsement, @oemid, @hwmodel, @at, @at, @at,
         @bootcount, @lockState, @lastSeq, @tampered, @measurement)`,
    );
    this.#attested = db.prepare(
      `UPDATE devices SET last_seen = CASE WHEN last_seen > @at THEN last_seen ELSE @at END, last_attested = @at, bootcount = @bootcount,
         lock_state = @lockState, last_seq = @lastSeq, tampered = @tampered, measurement = @measurement
       WHERE did = @did`,
    );
    this.#touch = db.prepare("UPDATE devices SET last_seen = CASE WHEN last_seen > @at THEN last_seen ELSE @at END WHERE did = @did");
    this.#online = db.prepare("UPDATE devices SET online = @online, last_seen = CASE WHEN last_seen > @at THEN last_seen ELSE @at END WHERE did = @did");
    this.#agent = db.prepare("UPDATE devices SET agent = ? WHERE did = ?");
    this.#count = db.prepare("SELECT count(*) AS n FROM devices");
  }

  get(did: string): Device | undefined {
    const r = this.#get.get(did) as Row | undefined;
    return r && toDevice(r);
  }

  insert(d: NewDevice): void {
    this.#insert.run({
      did: d.did,
      deviceKey: blob(d.deviceKey),
      endorsement: blob(d.endorsement),
      oemid: blob(d.oemid),
      hwmodel: blob(d.hwmodel),
      at: d.at,
      bootcount: d.bootcount,
      lockState: d.lockState,
      lastSeq: d.lastSeq,
      tampered: d.tampered ? 1 : 0,
      measurement: blobOrNull(d.measurement),
    });
  }

  /** Records the state of a verified attestation. */
  attested(did: string, s: AttestedState): void {
    this.#attested.run({
      did,
      at: s.at,
      bootcount: s.bootcount,
      lockState: s.lockState,
      lastSeq: s.lastSeq,
      tampered: s.tampered ? 1 : 0,
      measurement: blobOrNull(s.measurement),
    });
  }

  touch(did: string, at: number): void {
    this.#touch.run({ at, did });
  }

  setOnline(did: string, online: boolean, at: number): void {
    this.#online.run({ online: online ? 1 : 0, at, did });
  }

  setAgent(did: string, agent: string | null): void {
    this.#agent.run(agent, did);
  }

  count(): number {
    return (this.#count.get() as { n: number }).n;
  }
}
