// Factory provisioning of a simulated handset: burn the fuse (HUK), boot the TA,
// provision the identity once, seal, and have the OEM endorse the device key.
// Everything is computed in memory first (the TA refuses a bad IMEI before anything is written);
// then the files are written in an order where an interrupted run still counts as provisioned
// (huk.bin first), so a second run can never give the same folder a second identity.
// provisionFolder adds whole-folder atomicity on disk: it builds the folder under a temporary
// name and renames it into place.
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { toHex } from "../attestation/bytes.js";
import { kidOfPublic } from "../attestation/cose/key.js";
import type { Signer } from "../attestation/cose/sign1.js";
import { createEndorsement } from "../attestation/endorsement.js";
import { DeviceTA, sealedBlobVersion, TA_STATE } from "./device-ta.js";
import { DeviceFolder, DeviceFolderError, HUK_BYTES, type DeviceInfo } from "./device-folder.js";
import { DEFAULT_DBGSTAT } from "./session.js";
import { TrustedApp } from "./trusted-app.js";

export interface ProvisionInput {
  readonly imei: string;
  readonly imei2?: string;
  /** The OEM factory key that signs the endorsement. */
  readonly oem: Signer;
  /** OEM name for the endorsement's iss claim (optional). */
  readonly issuer?: string;
  /** 1..4 registry public keys (raw 32 bytes) the TA will trust for commands. */
  readonly registryKeys: readonly Uint8Array[];
  /** Hardware model name, 1..32 bytes of UTF-8. */
  readonly model: string;
  /** 3 (IEEE OUI) or 16 bytes; default: the kid of the OEM key (16 bytes, hash-derived). */
  readonly oemId?: Uint8Array;
  /** Clock for iat, ms (default Date.now). */
  readonly now?: () => number;
  /** Source of the HUK (default node:crypto). */
  readonly random?: (n: number) => Uint8Array;
  /**
   * The device CA (PEM certificate and key): the folder also gets the handset's TLS client key and
   * certificate (CN = did) and the CA certificate (transport/device-tls.ts, PROTOCOL.md §2.1).
   */
  readonly tlsCa?: { readonly certPem: string; readonly keyPem: string };
}

/** Provisions `folder` (which must be empty). Returns device.json's content. */
export async function provisionDevice(folder: DeviceFolder, module: WebAssembly.Module, input: ProvisionInput): Promise<DeviceInfo> {
  if (await folder.isProvisioned()) throw new DeviceFolderError("E_ALREADY_PROVISIONED", "the device is already provisioned; nothing was changed");
  const oemId = input.oemId ?? kidOfPublic(input.oem.publicKey);
  const huk = (input.random ?? ((n: number) => new Uint8Array(randomBytes(n))))(HUK_BYTES);
  if (!(huk instanceof Uint8Array) || huk.length !== HUK_BYTES) throw new RangeError(`random must return ${HUK_BYTES} bytes`);

  const ta = new DeviceTA(TrustedApp.fromModule(module));
  const booted = ta.boot(huk, new Uint8Array(0), 0, DEFAULT_DBGSTAT);
  if (booted.taState !== TA_STATE.UNPROVISIONED) throw new Error("a factory-fresh TA did not boot UNPROVISIONED");
  // The TA is the authority on IMEIs, oemid, model and keys: a refusal throws TaError here,
  // before anything is written.
  const blob = ta.provision({
    imei: input.imei,
    ...(input.imei2 !== undefined ? { imei2: input.imei2 } : {}),
    oemid: oemId,
    hwmodel: input.model,
    registryKeys: input.registryKeys,
  });
  const devicePublic = ta.devicePublic();
  const now = (input.now ?? Date.now)();
  const endorsement = createEndorsement({
    oem: input.oem,
    ...(input.issuer !== undefined ? { issuer: input.issuer } : {}),
    issuedAt: Math.floor(now / 1000),
    deviceKey: devicePublic,
    imei: input.imei,
    ...(input.imei2 !== undefined ? { imei2: input.imei2 } : {}),
    oemid: oemId,
    hwmodel: input.model,
  });
  const info: DeviceInfo = {
    did: toHex(kidOfPublic(devicePublic)),
    imei: input.imei,
    ...(input.imei2 !== undefined ? { imei2: input.imei2 } : {}),
    model: input.model,
    oemId: toHex(oemId),
    provisionedAt: Math.floor(now / 1000),
  };

  await folder.writeHuk(huk); // create-once: a concurrent provisioning loses here
  huk.fill(0);
  await folder.commit(blob, sealedBlobVersion(blob));
  await folder.writeEndorsement(endorsement);
  await folder.writeInfo(info);
  return info;
}

/**
 * Provisions the folder `dir` on disk atomically: built under a temporary sibling name, then
 * renamed into place, so `dir` is either absent/empty or completely provisioned. An existing
 * non-empty `dir` is refused (E_ALREADY_PROVISIONED when it holds a device) and left untouched.
 */
export async function provisionFolder(dir: string, module: WebAssembly.Module, input: ProvisionInput): Promise<DeviceInfo> {
  const target = resolve(dir);
  const existing = await readdir(target).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return [] as string[];
    throw new DeviceFolderError("E_STORAGE", `cannot read ${target}: ${e.message}`, { cause: e });
  });
  if (existing.length > 0) {
    if (await DeviceFolder.at(target).isProvisioned()) throw new DeviceFolderError("E_ALREADY_PROVISIONED", `${dir} already holds a provisioned device; nothing was changed`);
    throw new DeviceFolderError("E_ALREADY_PROVISIONED", `${dir} is not empty; provision into a new or empty folder`);
  }
  // A mistyped path must not be created silently: the parent folder has to exist already.
  const parent = await stat(dirname(target)).catch(() => undefined);
  if (!parent?.isDirectory()) throw new DeviceFolderError("E_STORAGE", `the parent folder ${dirname(target)} does not exist (or is not a folder): create it first; nothing was written`);
  const staging = await mkdtemp(join(dirname(target), `.${basename(target)}.provisioning-`));
  try {
    const info = await provisionDevice(DeviceFolder.at(staging), module, input);
    if (input.tlsCa) {
      // Loaded only when asked: the X.509 library is not needed by anything else here.
      const { provisionDeviceTls } = await import("../transport/device-tls.js");
      await provisionDeviceTls(staging, info.did, input.tlsCa);
    }
    try {
      // rename(2) replaces an empty directory atomically and fails on a non-empty one.
      await rename(staging, target);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOTEMPTY" || code === "EEXIST") throw new DeviceFolderError("E_ALREADY_PROVISIONED", `${dir} was filled by someone else meanwhile; nothing was changed`);
      throw e;
    }
    return info;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
