// Where a handset folder keeps its transport identity (docs/PROTOCOL.md §2.1): a P-256 TLS client
// key and certificate (CN = the device id) and the device CA's certificate. Issued by
// transport/device-tls.ts at factory provisioning; read by the agent for mqtts:// brokers.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ClientTlsFiles } from "./client-tls.js";

export const DEVICE_TLS_FILES = { cert: "tls-client.crt", key: "tls-client.key", ca: "tls-ca.crt" } as const;

/** The folder's TLS files, if it has them (a folder provisioned without a device CA has none). */
export function deviceTlsFiles(dir: string): ClientTlsFiles | undefined {
  const cert = join(dir, DEVICE_TLS_FILES.cert);
  const key = join(dir, DEVICE_TLS_FILES.key);
  const ca = join(dir, DEVICE_TLS_FILES.ca);
  if (!existsSync(cert) || !existsSync(key)) return undefined;
  return { cert, key, ...(existsSync(ca) ? { ca } : {}) };
}
