// `antitheft factory provision`: creates a simulated handset folder at the factory.
import type { Command } from "../command.js";
import { CliError } from "../command.js";
import { privateKeyFromPem, publicKeyFromPem, rawPublicKey } from "../../attestation/cose/key.js";
import { nodeSigner } from "../../attestation/cose/sign1.js";
import { provisionFolder } from "../../agent/factory.js";
import { hexArg, imeiFlag, loadTaModule, parseFlags, printJson, readTextFile, required, withDeviceErrors } from "./device-common.js";

const usage = `Usage: antitheft factory provision --dir DEVICE --imei IMEI [--imei2 IMEI] --oem-key oem.key
         --registry-pub registry.pub [--registry-pub ...] --model NAME [--oem-id HEX] [--issuer NAME]
         [--tls-ca PKI]

Creates the simulated handset folder DEVICE: burns its fuse (huk.bin, 32 random bytes), boots
its Trusted App, provisions the IMEI(s), OEM id, model and the registry key(s) it will trust for
commands (1..4), stores the sealed state (sealed.bin) and its counter, and writes the OEM
endorsement signed with --oem-key (endorsement.cbor, a raw COSE_Sign1) and device.json.
--oem-id is 3 bytes (IEEE OUI) or 16 bytes; by default the OEM key's 16-byte kid.
--tls-ca: the device CA folder (antitheft pki init): the handset also gets its transport identity,
a P-256 TLS client key and certificate whose CN is its device id (tls-client.key, tls-client.crt)
and the CA certificate (tls-ca.crt), for mqtts:// brokers (docs/PROTOCOL.md §2.1).
The folder appears complete or not at all. A folder that already holds a device is refused
and left unchanged, and so is a DEVICE whose parent folder does not exist (a mistyped path is
not created). Prints device.json.`;

export const factoryProvision: Command = {
  path: ["factory", "provision"],
  summary: "create and provision a simulated handset folder",
  usage,
  run(argv) {
    return withDeviceErrors(() => provision(argv));
  },
};

async function provision(argv: string[]): Promise<number> {
  const v = parseFlags(
    argv,
    {
      dir: { type: "string" },
      imei: { type: "string" },
      imei2: { type: "string" },
      "oem-key": { type: "string" },
      "registry-pub": { type: "string", multiple: true },
      model: { type: "string" },
      "oem-id": { type: "string" },
      issuer: { type: "string" },
      "tls-ca": { type: "string" },
    },
    usage,
  );
  const dir = required(v.dir, "dir", usage);
  // Checked here for a clear message; the TA checks again and is the authority.
  const imei = imeiFlag(required(v.imei, "imei", usage));
  const imei2 = v.imei2 === undefined ? undefined : imeiFlag(v.imei2, "imei2");
  const oemKey = privateKeyFromPem(await readTextFile(required(v["oem-key"], "oem-key", usage), "OEM key"));
  const regPaths = required(v["registry-pub"], "registry-pub", usage);
  if (regPaths.length > 4) throw new CliError("E_USAGE", "at most 4 --registry-pub keys", 2);
  const registryKeys = [];
  for (const p of regPaths) registryKeys.push(rawPublicKey(publicKeyFromPem(await readTextFile(p, "registry public key"))));
  const model = required(v.model, "model", usage);
  const modelBytes = Buffer.byteLength(model, "utf8");
  if (modelBytes < 1 || modelBytes > 32) throw new CliError("E_USAGE", `--model must be 1..32 bytes of UTF-8, got ${modelBytes}`, 2);
  const oemId = v["oem-id"] === undefined ? undefined : hexArg(v["oem-id"], "oem-id", 3, 16);
  if (oemId && oemId.length !== 3 && oemId.length !== 16) throw new CliError("E_USAGE", "--oem-id must be 3 bytes (IEEE OUI) or 16 bytes", 2);
  const module = await loadTaModule();
  let tlsCa: { certPem: string; keyPem: string } | undefined;
  if (v["tls-ca"] !== undefined) {
    const { loadCa } = await import("../../transport/pki-dir.js");
    try {
      tlsCa = loadCa(v["tls-ca"]);
    } catch (e) {
      throw new CliError("E_TLS_CONFIG", (e as Error).message.replace(/^E_[A-Z_]+: /, ""));
    }
  }
  const info = await provisionFolder(dir, module, {
    imei,
    ...(imei2 !== undefined ? { imei2 } : {}),
    oem: nodeSigner(oemKey),
    ...(v.issuer !== undefined ? { issuer: v.issuer } : {}),
    registryKeys,
    model,
    ...(oemId !== undefined ? { oemId } : {}),
    ...(tlsCa ? { tlsCa } : {}),
  });
  if (tlsCa && v["tls-ca"] !== undefined) {
    const { recordIssued } = await import("../../transport/pki-dir.js");
    const { DEVICE_TLS_FILES } = await import("../../transport/device-tls-files.js");
    recordIssued(v["tls-ca"], await readTextFile(`${dir}/${DEVICE_TLS_FILES.cert}`, "device certificate"), "client");
  }
  printJson(info);
  return 0;
}
