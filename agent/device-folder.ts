// A simulated handset's persistent storage, laid out as a real handset splits it:
//   huk.bin           the fuse: 32 random bytes, written once at the factory (real hardware: an
//                     OTP/eFuse key only the TEE can read)
//   sealed.bin        the TA's sealed-state blob (real hardware: any flash; the blob protects itself)
//   counter           the replay-protected monotonic counter (real hardware: eMMC RPMB / UFS RPMB
//                     write counter, or a TEE-owned monotonic counter); decimal ASCII
//   endorsement.cbor  the OEM endorsement, raw COSE_Sign1 (docs/ATTESTATION.md)
//   device.json       public facts: did, IMEI(s), model, oemid (written last at provisioning)
//   agent.json        the agent's bookkeeping of commands (not security relevant; the TA decides)
//   userdata/         the user's data: the only thing a factory reset wipes
// Every write is atomic and durable (storage.ts). A state change persists the blob FIRST and the
// counter SECOND: a crash in between leaves blob version == counter + 1, which the TA accepts as
// an interrupted commit; the other order would leave counter > version, a rollback.
import type { DeviceStorage } from "./storage.js";
import { FsStorage, MemoryStorage, StorageError } from "./storage.js";

export const HUK_BYTES = 32;
/**
 * RPMB write counters are 32-bit (JEDEC eMMC 5.1 §6.6.22), but the TA's boot ABI passes the
 * counter as an i32 (docs/ABI.md), so the host keeps it within 0 .. 2^31-1.
 */
export const COUNTER_MAX = 0x7fff_ffff;

export const FILES = {
  huk: "huk.bin",
  sealed: "sealed.bin",
  counter: "counter",
  endorsement: "endorsement.cbor",
  info: "device.json",
  agentState: "agent.json",
  userdata: "userdata",
} as const;

/** Public facts about a provisioned handset (device.json). */
export interface DeviceInfo {
  /** Device id: lowercase hex of the device key's kid (docs/PROTOCOL.md §1). */
  readonly did: string;
  readonly imei: string;
  readonly imei2?: string;
  readonly model: string;
  /** OEM id as provisioned, lowercase hex (3 or 16 bytes). */
  readonly oemId: string;
  /** When the factory provisioned it, seconds since the epoch. */
  readonly provisionedAt?: number;
}

/** What the agent remembers about commands, to answer duplicate deliveries (agent.ts). */
export interface AgentState {
  /** The command handed to the TA last (written before the TA sees it). */
  readonly pending?: CommandRecord;
  /** The last command the TA accepted and whose new state was persisted. */
  readonly accepted?: CommandRecord;
}

export interface CommandRecord {
  readonly seq: number;
  /** Lowercase hex of SHA-512(command bytes)[0..32]: the proof-token nonce (PROTOCOL §4.6). */
  readonly digest: string;
}

export type DeviceFolderErrorCode =
  | "E_NOT_PROVISIONED"
  | "E_ALREADY_PROVISIONED"
  | "E_FOLDER_CORRUPT"
  | "E_COUNTER_ROLLBACK"
  | "E_STORAGE";

export class DeviceFolderError extends Error {
  constructor(
    readonly code: DeviceFolderErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
    this.name = "DeviceFolderError";
  }
}

export class DeviceFolder {
  constructor(readonly storage: DeviceStorage) {}

  /** A folder on disk (the CLI, the demo). */
  static at(dir: string): DeviceFolder {
    return new DeviceFolder(new FsStorage(dir));
  }

  /** A folder in memory (fleets, tests). */
  static inMemory(): DeviceFolder {
    return new DeviceFolder(new MemoryStorage());
  }

  /** True once anything of a provisioning is present (even an interrupted one). */
  async isProvisioned(): Promise<boolean> {
    for (const f of [FILES.huk, FILES.sealed, FILES.counter, FILES.info]) {
      if ((await this.#read(f)) !== undefined) return true;
    }
    return false;
  }

  async readHuk(): Promise<Uint8Array> {
    const huk = await this.#read(FILES.huk);
    if (huk === undefined) throw new DeviceFolderError("E_NOT_PROVISIONED", "no huk.bin: the device was never provisioned");
    if (huk.length !== HUK_BYTES) throw new DeviceFolderError("E_FOLDER_CORRUPT", `huk.bin must be ${HUK_BYTES} bytes, found ${huk.length}`);
    return huk;
  }

  /** Burns the fuse: refuses when a HUK exists (write once). */
  async writeHuk(huk: Uint8Array): Promise<void> {
    if (!(huk instanceof Uint8Array) || huk.length !== HUK_BYTES) throw new RangeError(`huk must be ${HUK_BYTES} bytes`);
    try {
      await this.storage.create(FILES.huk, huk);
    } catch (e) {
      if (e instanceof StorageError && e.code === "E_EXISTS") throw new DeviceFolderError("E_ALREADY_PROVISIONED", "huk.bin exists: the fuse is written once");
      throw storageError(e, "cannot write huk.bin");
    }
  }

  /** The sealed blob, empty before the first commit. */
  async readSealed(): Promise<Uint8Array> {
    return (await this.#read(FILES.sealed)) ?? new Uint8Array(0);
  }

  /** The replay-protected counter (0 before the first commit). */
  async readCounter(): Promise<number> {
    const raw = await this.#read(FILES.counter);
    if (raw === undefined) return 0;
    const text = Buffer.from(raw).toString("latin1").trim();
    if (!/^(0|[1-9][0-9]{0,9})$/.test(text) || Number(text) > COUNTER_MAX) {
      throw new DeviceFolderError("E_FOLDER_CORRUPT", `counter is not a decimal number in 0..${COUNTER_MAX}: ${JSON.stringify(text.slice(0, 20))}`);
    }
    return Number(text);
  }

  /**
   * Persists a state change: the blob first, then the counter (see the header). The counter is
   * monotonic like RPMB's: a value below the stored one is refused before anything is written.
   */
  async commit(blob: Uint8Array, counter: number): Promise<void> {
    if (!(blob instanceof Uint8Array) || blob.length === 0) throw new TypeError("blob must be a non-empty Uint8Array");
    if (!Number.isInteger(counter) || counter < 0 || counter > COUNTER_MAX) throw new RangeError(`counter must be in [0, ${COUNTER_MAX}], got ${counter}`);
    const current = await this.readCounter();
    if (counter < current) throw new DeviceFolderError("E_COUNTER_ROLLBACK", `the counter is monotonic: ${counter} < ${current}`);
    await this.#write(FILES.sealed, blob);
    if (counter !== current) await this.#write(FILES.counter, new TextEncoder().encode(`${counter}\n`));
  }

  async readEndorsement(): Promise<Uint8Array> {
    const e = await this.#read(FILES.endorsement);
    if (e === undefined) throw new DeviceFolderError("E_NOT_PROVISIONED", "no endorsement.cbor");
    return e;
  }

  async writeEndorsement(endorsement: Uint8Array): Promise<void> {
    await this.#write(FILES.endorsement, endorsement);
  }

  async readInfo(): Promise<DeviceInfo> {
    const raw = await this.#read(FILES.info);
    if (raw === undefined) throw new DeviceFolderError("E_NOT_PROVISIONED", "no device.json");
    let v: unknown;
    try {
      v = JSON.parse(Buffer.from(raw).toString("utf8"));
    } catch (e) {
      throw new DeviceFolderError("E_FOLDER_CORRUPT", "device.json is not JSON", { cause: e });
    }
    const o = v as Record<string, unknown>;
    const ok =
      typeof o === "object" && o !== null &&
      typeof o.did === "string" && /^[0-9a-f]{32}$/.test(o.did) &&
      typeof o.imei === "string" && /^[0-9]{15}$/.test(o.imei) &&
      (o.imei2 === undefined || (typeof o.imei2 === "string" && /^[0-9]{15}$/.test(o.imei2))) &&
      typeof o.model === "string" && typeof o.oemId === "string" && /^[0-9a-f]*$/.test(o.oemId);
    if (!ok) throw new DeviceFolderError("E_FOLDER_CORRUPT", "device.json lacks did, imei, model or oemId, or has a malformed one");
    return o as unknown as DeviceInfo;
  }

  async writeInfo(info: DeviceInfo): Promise<void> {
    await this.#write(FILES.info, new TextEncoder().encode(JSON.stringify(info, null, 2) + "\n"));
  }

  /** The agent's command bookkeeping; an unreadable record counts as none (the TA decides anyway). */
  async readAgentState(): Promise<AgentState> {
    const raw = await this.#read(FILES.agentState);
    if (raw === undefined) return {};
    try {
      const o = JSON.parse(Buffer.from(raw).toString("utf8")) as Record<string, unknown>;
      return { pending: record(o.pending), accepted: record(o.accepted) };
    } catch {
      return {};
    }
  }

  async writeAgentState(state: AgentState): Promise<void> {
    await this.#write(FILES.agentState, new TextEncoder().encode(JSON.stringify(state) + "\n"));
  }

  /** Writes one file of user data (tests and the demo put "photos" here). */
  async writeUserData(name: string, data: Uint8Array): Promise<void> {
    await this.#write(`${FILES.userdata}/${name}`, data);
  }

  async listUserData(): Promise<string[]> {
    try {
      return await this.storage.list(FILES.userdata);
    } catch (e) {
      throw storageError(e, "cannot list userdata/");
    }
  }

  /** Factory reset: wipes userdata/, never the TA's state, the counter or the fuse. */
  async wipeUserData(): Promise<void> {
    try {
      await this.storage.removeTree(FILES.userdata);
    } catch (e) {
      throw storageError(e, "cannot wipe userdata/");
    }
  }

  async #read(name: string): Promise<Uint8Array | undefined> {
    try {
      return await this.storage.read(name);
    } catch (e) {
      throw storageError(e, `cannot read ${name}`);
    }
  }

  async #write(name: string, data: Uint8Array): Promise<void> {
    try {
      await this.storage.write(name, data);
    } catch (e) {
      throw storageError(e, `cannot write ${name}`);
    }
  }
}

function record(v: unknown): CommandRecord | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const r = v as Record<string, unknown>;
  if (typeof r.seq !== "number" || !Number.isInteger(r.seq) || r.seq < 0) return undefined;
  if (typeof r.digest !== "string" || !/^[0-9a-f]{64}$/.test(r.digest)) return undefined;
  return { seq: r.seq, digest: r.digest };
}

function storageError(e: unknown, message: string): DeviceFolderError {
  if (e instanceof DeviceFolderError) return e;
  return new DeviceFolderError("E_STORAGE", `${message}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}
