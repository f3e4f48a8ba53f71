// A CA on disk, as `antitheft pki` keeps it (docs/PROTOCOL.md §2.1):
//   ca.crt      the CA certificate (give it to the broker as cafile and to every client as --ca)
//   ca.key      its private key (mode 0600; keep it offline in production)
//   crl.pem     the current revocation list (the broker's crlfile)
//   index.json  every certificate issued: serial, CN, usage, notAfter, and revocation date
// Writes go through a temporary file and a rename, so a crash leaves the old file or the new.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { X509Certificate } from "node:crypto";
import { createCa, createCrl, issueCertificate, serialOf, type CaMaterial, type IssueInput, type Issued } from "./pki.js";
import { TransportError } from "./errors.js";

export const PKI_FILES = { cert: "ca.crt", key: "ca.key", crl: "crl.pem", index: "index.json" } as const;

export interface IndexEntry {
  readonly serial: string;
  readonly cn: string;
  readonly usage: string;
  readonly notAfter: string;
  readonly revoked?: string;
}

function atomicWrite(path: string, data: string, mode = 0o644): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, path);
}

function readIndex(dir: string): IndexEntry[] {
  const p = join(dir, PKI_FILES.index);
  if (!existsSync(p)) return [];
  try {
    const v = JSON.parse(readFileSync(p, "utf8")) as unknown;
    if (!Array.isArray(v)) throw new Error("not an array");
    return v as IndexEntry[];
  } catch (e) {
    throw new TransportError("E_TLS_CONFIG", `${p} is not a certificate index: ${(e as Error).message}`, { cause: e });
  }
}

/** Creates a new CA in `dir` (refuses to overwrite one) with an empty CRL. */
export async function initPki(dir: string, name: string, days?: number): Promise<CaMaterial> {
  if (existsSync(join(dir, PKI_FILES.key))) throw new TransportError("E_TLS_CONFIG", `${dir} already holds a CA (${PKI_FILES.key}); nothing was changed`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = await createCa(name, days);
  atomicWrite(join(dir, PKI_FILES.key), ca.keyPem, 0o600);
  atomicWrite(join(dir, PKI_FILES.cert), ca.certPem);
  atomicWrite(join(dir, PKI_FILES.index), "[]\n");
  atomicWrite(join(dir, PKI_FILES.crl), await createCrl(ca, []));
  return ca;
}

/** The CA kept in `dir`. */
export function loadCa(dir: string): CaMaterial {
  try {
    return { certPem: readFileSync(join(dir, PKI_FILES.cert), "utf8"), keyPem: readFileSync(join(dir, PKI_FILES.key), "utf8") };
  } catch (e) {
    throw new TransportError("E_TLS_CONFIG", `no CA in ${dir} (antitheft pki init --dir ${dir}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
}

/** Issues a certificate under the CA in `dir` and records it in the index. */
export async function issueFromDir(dir: string, input: IssueInput): Promise<Issued> {
  const issued = await issueCertificate(loadCa(dir), input);
  recordIssued(dir, issued.certPem, input.usage);
  return issued;
}

/** Adds a certificate issued elsewhere with this CA's key (e.g. at factory provisioning) to the index. */
export function recordIssued(dir: string, certPem: string, usage: string): void {
  const x = new X509Certificate(certPem);
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(x.subject)?.[1] ?? "";
  const index = readIndex(dir);
  index.push({ serial: x.serialNumber.toLowerCase(), cn, usage, notAfter: new Date(x.validTo).toISOString() });
  atomicWrite(join(dir, PKI_FILES.index), JSON.stringify(index, null, 1) + "\n");
}

/** Revokes a certificate (by its PEM) and rewrites crl.pem. Returns the new CRL. */
export async function revokeInDir(dir: string, certPem: string, now = new Date()): Promise<string> {
  const ca = loadCa(dir);
  const x = new X509Certificate(certPem);
  if (!x.checkIssued(new X509Certificate(ca.certPem))) throw new TransportError("E_TLS_CONFIG", "this certificate was not issued by the CA in this folder");
  const serial = serialOf(certPem);
  const index = readIndex(dir);
  const at = index.findIndex((e) => e.serial === serial);
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(x.subject)?.[1] ?? "";
  const entry: IndexEntry = { ...(at >= 0 ? index[at]! : { serial, cn, usage: "unknown", notAfter: new Date(x.validTo).toISOString() }), revoked: now.toISOString() };
  if (at >= 0) index[at] = entry;
  else index.push(entry);
  atomicWrite(join(dir, PKI_FILES.index), JSON.stringify(index, null, 1) + "\n");
  return writeCrl(dir, index, ca);
}

/** Re-signs crl.pem from the index (a CRL has a nextUpdate: refresh it before then). */
export async function writeCrl(dir: string, index = readIndex(dir), ca = loadCa(dir)): Promise<string> {
  const crl = await createCrl(ca, index.filter((e) => e.revoked).map((e) => ({ serial: e.serial, date: new Date(e.revoked!) })));
  atomicWrite(join(dir, PKI_FILES.crl), crl);
  return crl;
}
