// `antitheft device ...`: the simulated handset's own tools (identity, claim proof, status, health, factory reset).
// attest, claim-proof and status boot the TA read-only (the boot is not committed), so looking
// at a handset never changes it; factory-reset wipes user data and never the TA's state.
import type { Command } from "../command.js";
import { CliError } from "../command.js";
import { ClaimCodeError, normalizeClaimCode } from "../../protocol/claim-code.js";
import { toHex } from "../../attestation/bytes.js";
import { NONCE_MAX, NONCE_MIN } from "../../attestation/eat/profile.js";
import { DeviceFolder } from "../../agent/device-folder.js";
import { RegistryClient } from "../../registry/client.js";
import { mustLock } from "../../agent/enforcement.js";
import { DeviceSession } from "../../agent/session.js";
import { deviceHealth } from "./device-health.js";
import { hexArg, loadTaModule, parseFlags, printJson, required, withDeviceErrors } from "./device-common.js";

async function bootReadOnly(dir: string): Promise<DeviceSession> {
  return DeviceSession.boot(DeviceFolder.at(dir), await loadTaModule(), { commit: false });
}

const attestUsage = `Usage: antitheft device attest --dir DEVICE --nonce HEX [--measurement HEX]

Boots the handset's Trusted App (read-only: nothing in DEVICE changes) and prints an attestation
token (EAT, COSE_Sign1) for --nonce (${NONCE_MIN}..${NONCE_MAX} bytes) as hex on stdout.
--measurement is a host-reported digest of the agent/firmware (1..64 bytes).`;

export const deviceAttest: Command = {
  path: ["device", "attest"],
  summary: "print an attestation token for a nonce",
  usage: attestUsage,
  run: (argv) =>
    withDeviceErrors(async () => {
      const v = parseFlags(argv, { dir: { type: "string" }, nonce: { type: "string" }, measurement: { type: "string" } }, attestUsage);
      const dir = required(v.dir, "dir", attestUsage);
      // Sizes are the TA's to refuse (ERR_NONCE_SIZE): only the hex form is checked here.
      const nonce = hexArg(required(v.nonce, "nonce", attestUsage), "nonce");
      const measurement = v.measurement === undefined ? undefined : hexArg(v.measurement, "measurement");
      const session = await bootReadOnly(dir);
      process.stdout.write(toHex(session.attest(nonce, measurement)) + "\n");
      return 0;
    }),
};

const claimUsage = `Usage: antitheft device claim-proof --dir DEVICE --code CODE [--registry http://HOST:PORT]

The user, at the handset, enters the claim code the registry gave the owner (XXXXX-XXXXX; case,
hyphens and O/0, I/L/1 do not matter). Prints (hex) the proof the owner sends with the "claim"
request (PROTOCOL §6.2): a registration-purpose token (EAT intuse 2, RFC 9711 §4.3.3) whose nonce
is SHA-512("antitheft/v1/claim" || code)[0..32]. This local action is the only way a handset
makes one: the agent answers the network with generic-purpose tokens only. Read-only: it needs
only the Trusted App's key, so it is safe while the agent runs on DEVICE. With --registry, the
handset also hands the proof in to the registry (POST /antitheft/v1/claim-proofs), where the
owner's portal page picks it up and the owner confirms the claim with a passkey (docs/PORTAL.md §4).`;

export const deviceClaimProof: Command = {
  path: ["device", "claim-proof"],
  summary: "print the claim proof for a claim code typed on the handset",
  usage: claimUsage,
  run: (argv) =>
    withDeviceErrors(async () => {
      const v = parseFlags(argv, { dir: { type: "string" }, code: { type: "string" }, registry: { type: "string" } }, claimUsage);
      const dir = required(v.dir, "dir", claimUsage);
      let code: string;
      try {
        code = normalizeClaimCode(required(v.code, "code", claimUsage));
      } catch (e) {
        if (e instanceof ClaimCodeError) throw new CliError("E_USAGE", `--code: ${e.message}`, 2);
        throw e;
      }
      const session = await bootReadOnly(dir);
      const proof = session.claimProof(code);
      process.stdout.write(toHex(proof) + "\n");
      if (v.registry !== undefined) {
        const a = await new RegistryClient(v.registry).handInClaimProof(code, proof);
        if (a.status !== 200) throw new CliError(typeof a.body.code === "string" ? a.body.code : `E_HTTP_${a.status}`, `the registry refused the proof (HTTP ${a.status}): ${String(a.body.message ?? "")}`);
        process.stderr.write(`handed in to ${v.registry}: the owner can now confirm the claim on the portal\n`);
      }
      return 0;
    }),
};

const statusUsage = `Usage: antitheft device status --dir DEVICE

Prints the handset's identity and the Trusted App's state as JSON: did, IMEI(s), model, lock
state (LwM2M Object 8: 0 unlocked, 1 partially, 2 fully locked), TAMPERED, last command
sequence, boot count, counter, lock-screen text and the number of user-data items. Read-only.`;

export const deviceStatus: Command = {
  path: ["device", "status"],
  summary: "show a handset's identity and lock state",
  usage: statusUsage,
  run: (argv) =>
    withDeviceErrors(async () => {
      const v = parseFlags(argv, { dir: { type: "string" } }, statusUsage);
      const dir = required(v.dir, "dir", statusUsage);
      const session = await bootReadOnly(dir);
      const view = session.view();
      const folder = session.folder;
      printJson({
        ...session.info,
        locked: mustLock(view),
        lock: view.lock,
        tampered: view.tampered,
        seq: view.seq,
        bootcount: view.bootcount,
        counter: await folder.readCounter(),
        message: view.message,
        contact: view.contact,
        userdata: (await folder.listUserData()).length,
      });
      return 0;
    }),
};

const resetUsage = `Usage: antitheft device factory-reset --dir DEVICE

Wipes the handset's user data (userdata/). The Trusted App's sealed state, its counter and the
fuse are not touched: a locked handset stays locked after a factory reset. Prints the lock state
the Trusted App reports afterwards.`;

export const deviceFactoryReset: Command = {
  path: ["device", "factory-reset"],
  summary: "wipe user data (the lock survives)",
  usage: resetUsage,
  run: (argv) =>
    withDeviceErrors(async () => {
      const v = parseFlags(argv, { dir: { type: "string" } }, resetUsage);
      const dir = required(v.dir, "dir", resetUsage);
      const folder = DeviceFolder.at(dir);
      await folder.readInfo(); // refuse a folder that is not a handset
      const before = (await folder.listUserData()).length;
      await folder.wipeUserData();
      const view = (await bootReadOnly(dir)).view();
      process.stdout.write(`factory reset: wiped ${before} user-data item(s); Trusted App state kept: ${mustLock(view) ? "LOCKED" : "unlocked"}${view.tampered ? " (TAMPERED)" : ""}\n`);
      return 0;
    }),
};

export const deviceCommands: Command[] = [deviceAttest, deviceClaimProof, deviceStatus, deviceHealth, deviceFactoryReset];
