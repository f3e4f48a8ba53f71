// `antitheft oem keygen --out oem.key`: the OEM factory key (Ed25519), as PEM files that OpenSSL
// and node:crypto read: the private key PKCS#8 (mode 0600), the public key SPKI next to it.
import { access, writeFile } from "node:fs/promises";
import type { Command } from "../command.js";
import { CliError } from "../command.js";
import { toHex } from "../../attestation/bytes.js";
import { generateEd25519, kidOfPublic, privateKeyToPem, publicKeyToPem, rawPublicKey } from "../../attestation/cose/key.js";
import { parseFlags, required } from "./device-common.js";

const usage = `Usage: antitheft oem keygen --out oem.key [--force]

Generates the OEM factory key (Ed25519). Writes the private key as PKCS#8 PEM to --out (mode
0600) and the public key as SPKI PEM next to it (oem.key -> oem.pub; any other name gets .pub
appended). Registries pin the public key; factories sign endorsements with the private key.
Existing files are not overwritten unless --force is given.`;

/** oem.key -> oem.pub, anything else -> <name>.pub */
export function publicPathFor(privatePath: string): string {
  return privatePath.endsWith(".key") ? privatePath.slice(0, -4) + ".pub" : privatePath + ".pub";
}

export const oemKeygen: Command = {
  path: ["oem", "keygen"],
  summary: "generate the OEM factory key pair (PEM)",
  usage,
  async run(argv) {
    const v = parseFlags(argv, { out: { type: "string" }, force: { type: "boolean" } }, usage);
    const out = required(v.out, "out", usage);
    const pubPath = publicPathFor(out);
    const { privateKey } = generateEd25519();
    const flag = v.force ? "w" : "wx";
    if (!v.force) {
      for (const p of [out, pubPath]) {
        if (await access(p).then(() => true, () => false)) throw new CliError("E_EXISTS", `${p} exists; use --force to overwrite`);
      }
    }
    try {
      await writeFile(out, privateKeyToPem(privateKey), { mode: 0o600, flag });
      await writeFile(pubPath, publicKeyToPem(privateKey), { mode: 0o644, flag });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EEXIST") throw new CliError("E_EXISTS", `${(e as NodeJS.ErrnoException).path ?? out} exists; use --force to overwrite`);
      throw new CliError("E_FILE", `cannot write the key files: ${(e as Error).message}`);
    }
    process.stdout.write(`wrote ${out} (private, PKCS#8) and ${pubPath} (public, SPKI); kid ${toHex(kidOfPublic(rawPublicKey(privateKey)))}\n`);
    return 0;
  },
};
