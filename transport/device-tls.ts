// A handset's transport identity in its folder (docs/PROTOCOL.md §2.1): a P-256 key and an X.509
// certificate whose subject CN is the device id, issued at factory provisioning under the device
// CA, and that CA's certificate (to verify the broker). The TA's Ed25519 key stays the authority
// for attestations and commands; this key only authenticates the connection.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { issueCertificate, type CaMaterial } from "./pki.js";
import { DEVICE_TLS_FILES } from "./device-tls-files.js";

/** Issues the handset's certificate (CN = did) under `ca` and writes the three files into `dir`. */
export async function provisionDeviceTls(dir: string, did: string, ca: CaMaterial, days?: number): Promise<void> {
  const issued = await issueCertificate(ca, { cn: did, usage: "client", ...(days !== undefined ? { days } : {}) });
  await writeFile(join(dir, DEVICE_TLS_FILES.key), issued.keyPem, { mode: 0o600, flag: "wx" });
  await writeFile(join(dir, DEVICE_TLS_FILES.cert), issued.certPem, { flag: "wx" });
  await writeFile(join(dir, DEVICE_TLS_FILES.ca), ca.certPem, { flag: "wx" });
}

