// The typed host view of the TA's identity, sealed-state and attestation exports
// (docs/ABI.md, "Identity and attestation") and of signed commands ("Commands"). One
// DeviceTA = one TA instance = one boot of one device: a reboot is a new instance. The TA is the
// authority on every rule (IMEI check digits, nonce sizes, states, command signatures); this
// class only checks argument types and lays the inputs out, and turns a negative status into a
// TaError whose `code` the caller can switch on.
import { INTUSE } from "../attestation/eat/profile.js";
import { TaError } from "./ta-errors.js";
import { TrustedApp, type TaResult } from "./trusted-app.js";
import { assertBytes, assertInt } from "./validate.js";

/** What DeviceTA needs from a TA instance: ABI v1's low-level call (agent/trusted-app.ts). */
export interface TaCaller {
  call(exportName: string, args: readonly number[], input?: Uint8Array): TaResult;
}

/** ta_state values (lock_state record byte 1; claim -65539 reports 0 or 1). */
export const TA_STATE = { NORMAL: 0, TAMPERED: 1, UNPROVISIONED: 2 } as const;
export type TaState = (typeof TA_STATE)[keyof typeof TA_STATE];

/** lock_state values (OMA LwM2M Object 8 resource 0; claim -65537). */
export const LOCK_STATE = { UNLOCKED: 0, PARTIALLY_LOCKED: 1, FULLY_LOCKED: 2 } as const;
export type LockState = (typeof LOCK_STATE)[keyof typeof LOCK_STATE];

/** Characters of an IMEI (TAC 8 + SNR 6 + check digit 1). */
export const IMEI_CHARS = 15;
/** Bytes of the hardware unique key. */
export const HUK_BYTES = 32;
/** Bytes of a sealed-state blob (format 1). */
export const SEALED_BLOB_BYTES = 422;
/** Offset of the blob's version (u32 LE), the value the host's replay-protected counter takes. */
export const SEALED_VERSION_OFFSET = 8;
/** Bytes of the lock_state record's fixed part. */
export const LOCK_RECORD_BYTES = 16;
/** Most bytes of a lock-screen message / contact number (PROTOCOL.md §5; UTF-8 bytes). */
export const LOCK_MESSAGE_MAX_BYTES = 128;
export const LOCK_CONTACT_MAX_BYTES = 32;

/** The decoded lock_state record. */
export interface LockRecord {
  readonly lockState: LockState;
  readonly taState: TaState;
  readonly lastSeq: number;
  readonly bootcount: number;
  /** The state version (0 unless NORMAL). */
  readonly version: number;
  /** Lock-screen message of the last lock / show-message command ("" when none, or not NORMAL). */
  readonly message: string;
  /** Contact number shown with it ("" when none, or not NORMAL). */
  readonly contact: string;
}

/** What boot tells the host. */
export interface BootResult {
  readonly taState: TaState;
  /**
   * NORMAL: the new blob (its bootcount went up). Store it, then set the replay-protected counter
   * to `sealedBlobVersion(blob)`. Null in UNPROVISIONED and TAMPERED: keep what is stored.
   */
  readonly blob: Uint8Array | null;
}

/** Factory provisioning data. */
export interface ProvisionData {
  /** IMEI 1: 15 ASCII digits, check digit included. */
  readonly imei: string;
  /** Optional IMEI 2 (dual-SIM). */
  readonly imei2?: string;
  /** 3 bytes (IEEE OUI) or 16 bytes. */
  readonly oemid: Uint8Array;
  /** 1..32 bytes of UTF-8 (a string is encoded as UTF-8). */
  readonly hwmodel: Uint8Array | string;
  /** 1..4 registry Ed25519 public keys (32 bytes each) the TA will trust for commands. */
  readonly registryKeys: readonly Uint8Array[];
}

/** The version (u32 LE at offset 8) of a sealed blob, or throws RangeError if it is too short. */
export function sealedBlobVersion(blob: Uint8Array): number {
  assertBytes(blob, "blob");
  if (blob.length < SEALED_VERSION_OFFSET + 4) throw new RangeError(`blob must be at least 12 bytes, got ${blob.length}`);
  return new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(SEALED_VERSION_OFFSET, true);
}

const I32_MAX = 0x7fff_ffff;
const encoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: false });

export class DeviceTA {
  readonly #ta: TaCaller;

  /** Wraps a fresh TA instance (not yet booted). */
  constructor(ta: TaCaller) {
    if (typeof ta?.call !== "function") throw new TypeError("ta must have a call(exportName, args, input) method");
    this.#ta = ta;
  }

  /** A fresh instance of an already compiled TA module. */
  static fromModule(module: WebAssembly.Module): DeviceTA {
    return new DeviceTA(TrustedApp.fromModule(module));
  }

  /** Loads, compiles and instantiates a TA (by default the release build, build/ta.wasm). */
  static async load(path?: string | URL): Promise<DeviceTA> {
    return new DeviceTA(await TrustedApp.load(path));
  }

  /**
   * boot: the HUK (32 bytes, as the fuse read gives it), the stored blob (empty on first boot),
   * the replay-protected counter (0 .. 2^31-1) and dbgstat (0..4, RFC 9711).
   */
  boot(huk: Uint8Array, blob: Uint8Array, counter: number, dbgstat: number): BootResult {
    assertBytes(huk, "huk", HUK_BYTES);
    assertBytes(blob, "blob");
    assertInt(counter, "counter", -0x8000_0000, I32_MAX);
    assertInt(dbgstat, "dbgstat", -0x8000_0000, I32_MAX);
    const out = this.#invoke("boot", [blob.length, counter, dbgstat], concat([huk, blob]));
    return { taState: this.lockState().taState, blob: out.length > 0 ? out : null };
  }

  /** provision: writes the identity once; returns the version-1 blob to store (then counter = 1). */
  provision(data: ProvisionData): Uint8Array {
    const imei = ascii(data.imei, "imei");
    // The ABI fixes IMEI 1 at 15 bytes (no length argument), so its length is checked here;
    // every other rule, IMEI 2's length included, is the TA's.
    if (imei.length !== IMEI_CHARS) throw new RangeError(`imei must be ${IMEI_CHARS} characters, got ${imei.length}`);
    const imei2 = data.imei2 === undefined ? new Uint8Array(0) : ascii(data.imei2, "imei2");
    assertBytes(data.oemid, "oemid");
    const model = typeof data.hwmodel === "string" ? encoder.encode(data.hwmodel) : data.hwmodel;
    assertBytes(model, "hwmodel");
    if (!Array.isArray(data.registryKeys)) throw new TypeError("registryKeys must be an array of Uint8Array");
    data.registryKeys.forEach((k, i) => assertBytes(k, `registryKeys[${i}]`, 32));
    // Wrong lengths go through as they are: the TA refuses them with its own codes.
    const input = concat([imei, imei2, data.oemid, model, ...data.registryKeys]);
    return this.#invoke("provision", [imei2.length, data.oemid.length, model.length, data.registryKeys.length], input);
  }

  /** device_public: the device attestation public key (Ed25519, 32 bytes). */
  devicePublic(): Uint8Array {
    return this.#invoke("device_public", [], new Uint8Array(0));
  }

  /**
   * attest: the EAT for `nonce` (8..64 bytes), an optional host-reported digest (0..64 bytes) and
   * the token's intended use (EAT intuse, RFC 9711 §4.3.3; default 1, generic; the TA refuses a
   * value outside 1..5 with ERR_PURPOSE).
   */
  attest(nonce: Uint8Array, measurement: Uint8Array = new Uint8Array(0), purpose: number = INTUSE.GENERIC): Uint8Array {
    assertBytes(nonce, "nonce");
    assertBytes(measurement, "measurement");
    assertInt(purpose, "purpose", -0x8000_0000, I32_MAX);
    return this.#invoke("attest", [nonce.length, measurement.length, purpose], concat([nonce, measurement]));
  }

  /** sealed_state: the current blob (NORMAL only). */
  sealedState(): Uint8Array {
    return this.#invoke("sealed_state", [], new Uint8Array(0));
  }

  /**
   * apply_command: hands a signed command (PROTOCOL.md §5, the COSE_Sign1 bytes as received) to
   * the TA. Returns the new sealed blob - store it, then set the replay-protected counter to
   * `sealedBlobVersion(blob)` - or throws TaError with the TA's code (ERR_CMD_*, docs/ABI.md),
   * in which case nothing changed. RangeError for a command larger than the I/O buffer.
   */
  applyCommand(command: Uint8Array): Uint8Array {
    assertBytes(command, "command");
    return this.#invoke("apply_command", [command.length], command);
  }

  /**
   * lock_state: the decoded record - 16 fixed bytes, then message_len u8, contact_len
   * u8, the message and the contact (UTF-8; the TA accepts only valid UTF-8 in commands).
   */
  lockState(): LockRecord {
    const r = this.#invoke("lock_state", [], new Uint8Array(0));
    if (r.length < LOCK_RECORD_BYTES + 2) throw new RangeError(`lock_state returned ${r.length} bytes`);
    const v = new DataView(r.buffer, r.byteOffset, r.byteLength);
    const ml = r[LOCK_RECORD_BYTES]!;
    const cl = r[LOCK_RECORD_BYTES + 1]!;
    const at = LOCK_RECORD_BYTES + 2;
    if (ml > LOCK_MESSAGE_MAX_BYTES || cl > LOCK_CONTACT_MAX_BYTES || r.length < at + ml + cl) {
      throw new RangeError(`lock_state returned an inconsistent record (${r.length} bytes, message ${ml}, contact ${cl})`);
    }
    return {
      lockState: r[0] as LockState,
      taState: r[1] as TaState,
      lastSeq: v.getUint32(4, true),
      bootcount: v.getUint32(8, true),
      version: v.getUint32(12, true),
      message: utf8.decode(r.subarray(at, at + ml)),
      contact: utf8.decode(r.subarray(at + ml, at + ml + cl)),
    };
  }

  #invoke(name: string, args: readonly number[], input: Uint8Array): Uint8Array {
    const { status, output } = this.#ta.call(name, args, input);
    if (status < 0) throw new TaError(status, name);
    return output;
  }
}

/** The bytes of an ASCII string (each character must be < 0x80; the TA checks the digits). */
function ascii(text: unknown, name: string): Uint8Array {
  if (typeof text !== "string") throw new TypeError(`${name} must be a string`);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) throw new RangeError(`${name} must be ASCII`);
    out[i] = c;
  }
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
