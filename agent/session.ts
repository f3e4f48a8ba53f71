// One boot of one handset: a fresh TA instance bound to the handset's folder. It boots the TA
// with the fuse (HUK), the stored blob and the replay-protected counter, commits every new sealed
// blob (blob first, then counter: device-folder.ts), and exposes what the agent and the CLI need:
// the lock view, attestations and signed commands. The TA decides everything; this class only
// moves bytes between the TA and storage, in the right order.
import { toHex } from "../attestation/bytes.js";
import { kidOfPublic } from "../attestation/cose/key.js";
import { DeviceTA, sealedBlobVersion, TA_STATE, type TaCaller } from "./device-ta.js";
import { HOST_ERRORS, TaError } from "./ta-errors.js";
import { DeviceFolder, DeviceFolderError, type DeviceInfo } from "./device-folder.js";
import { TrustedApp } from "./trusted-app.js";
import { INTUSE } from "../attestation/eat/profile.js";
import { claimNonce, normalizeClaimCode } from "../protocol/claim-code.js";

/**
 * dbgstat the simulated boot hardware reports (RFC 9711 §4.2.9): 1 = disabled. A real handset
 * passes what its boot ROM / fuses say.
 */
export const DEFAULT_DBGSTAT = 1;

/** The handset's state as the TA reports it. */
export interface SessionView {
  /** 0 unlocked, 1 partially locked, 2 fully locked (LwM2M Object 8 res 0). */
  readonly lock: number;
  /** The sealed state failed verification: the TA counts as locked and refuses commands. */
  readonly tampered: boolean;
  /** Last accepted command sequence number (0 = none). */
  readonly seq: number;
  readonly bootcount: number;
  /** Sealed-state version (0 when TAMPERED). */
  readonly version: number;
  /** Lock-screen message and contact number of the last lock command ("" when none). */
  readonly message: string;
  readonly contact: string;
}

export type ApplyOutcome =
  /** The TA accepted the command and the new state is persisted (blob, then counter). */
  | { readonly kind: "accepted" }
  /** The TA refused it (its error code, docs/ABI.md); nothing changed. */
  | { readonly kind: "rejected"; readonly code: number }
  /**
   * Not applied as far as storage is concerned: the TA call failed (no apply_command export, a
   * trap) or the new state could not be persisted. `diverged`: this instance may now be ahead of
   * storage or unusable, so the caller must boot a fresh one from storage.
   */
  | { readonly kind: "failed"; readonly error: Error; readonly diverged: boolean };

export interface BootOptions {
  /** dbgstat to report (default DEFAULT_DBGSTAT). */
  readonly dbgstat?: number;
  /**
   * Persist the new blob the boot produces (bootcount + 1). The agent does (a boot of the
   * handset); the CLI's read-only commands (attest, status, claim-proof) do not, so inspecting
   * a folder never changes it.
   */
  readonly commit?: boolean;
  /**
   * Makes the TA instance (default: a fresh TrustedApp of `module`). Fleets and test doubles
   * inject here, e.g. to wrap the instance or to count instantiations.
   */
  readonly createTa?: (module: WebAssembly.Module) => TaCaller;
}

export class DeviceSession {
  readonly #ta: DeviceTA;
  #view: SessionView;

  private constructor(
    readonly folder: DeviceFolder,
    readonly info: DeviceInfo,
    readonly devicePublic: Uint8Array,
    ta: DeviceTA,
  ) {
    this.#ta = ta;
    this.#view = this.#readView();
  }

  /** The device id (PROTOCOL §1), from the TA's own key - not from device.json. */
  get did(): string {
    return toHex(kidOfPublic(this.devicePublic));
  }

  /**
   * Boots the TA of a provisioned folder. Throws DeviceFolderError E_NOT_PROVISIONED for a
   * factory-fresh folder, E_FOLDER_CORRUPT when device.json names another device key than the
   * TA's; a TAMPERED TA boots fine (it reports itself and counts as locked).
   */
  static async boot(folder: DeviceFolder, module: WebAssembly.Module, options: BootOptions = {}): Promise<DeviceSession> {
    const info = await folder.readInfo();
    const huk = await folder.readHuk();
    const blob = await folder.readSealed();
    const counter = await folder.readCounter();
    const app = options.createTa ? options.createTa(module) : TrustedApp.fromModule(module);
    const ta = new DeviceTA(app);
    let booted;
    try {
      booted = ta.boot(huk, blob, counter, options.dbgstat ?? DEFAULT_DBGSTAT);
    } finally {
      huk.fill(0); // the fuse value lives on only inside the TA
    }
    if (booted.taState === TA_STATE.UNPROVISIONED) {
      throw new DeviceFolderError("E_NOT_PROVISIONED", "the TA reports a factory-fresh device: provision it first");
    }
    const pub = ta.devicePublic();
    if (toHex(kidOfPublic(pub)) !== info.did) {
      throw new DeviceFolderError("E_FOLDER_CORRUPT", `device.json names did ${info.did}, the TA's key is ${toHex(kidOfPublic(pub))}`);
    }
    if (booted.blob && options.commit !== false) await folder.commit(booted.blob, sealedBlobVersion(booted.blob));
    return new DeviceSession(folder, info, pub, ta);
  }

  /** The state the TA reports now. */
  view(): SessionView {
    return this.#view;
  }

  /**
   * A generic-purpose attestation token (EAT intuse 1, RFC 9711 §4.3.3) for `nonce` (8..64
   * bytes) with an optional host-reported digest: what the agent answers challenges and reports
   * command results with. The agent has no way to ask for any other purpose.
   */
  attest(nonce: Uint8Array, measurement?: Uint8Array): Uint8Array {
    return this.#ta.attest(nonce, measurement, INTUSE.GENERIC);
  }

  /**
   * A claim proof (docs/PROTOCOL.md §6.2): a registration-purpose token (intuse 2) for the claim
   * code the user typed on the handset, nonce = claimNonce(code). Only a local, user-present
   * action calls this (`antitheft device claim-proof`), never anything received from the network.
   */
  claimProof(code: string): Uint8Array {
    return this.#ta.attest(claimNonce(normalizeClaimCode(code)), undefined, INTUSE.REGISTRATION);
  }

  /**
   * Hands a signed command to the TA (apply_command, docs/ABI.md). On acceptance the new blob is
   * persisted, then the counter, before this returns: only then may the agent acknowledge,
   * enforce and report.
   */
  async applyCommand(command: Uint8Array): Promise<ApplyOutcome> {
    let blob: Uint8Array;
    try {
      blob = this.#ta.applyCommand(command);
    } catch (e) {
      // A TA refusal (its own code, > the host's -1000 range): nothing changed.
      if (e instanceof TaError && e.code > HOST_ERRORS.ERR_TRAP.code) return { kind: "rejected", code: e.code };
      // A trap or abort poisons the instance (TaError, host range); a command larger than the I/O
      // buffer (RangeError) changed nothing.
      return { kind: "failed", error: asError(e), diverged: e instanceof TaError };
    }
    try {
      await this.folder.commit(blob, sealedBlobVersion(blob));
    } catch (e) {
      return { kind: "failed", error: asError(e), diverged: true };
    } finally {
      this.#view = this.#readView();
    }
    return { kind: "accepted" };
  }

  #readView(): SessionView {
    const r = this.#ta.lockState();
    return {
      lock: r.lockState,
      tampered: r.taState === TA_STATE.TAMPERED,
      seq: r.lastSeq,
      bootcount: r.bootcount,
      version: r.version,
      message: r.message,
      contact: r.contact,
    };
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
