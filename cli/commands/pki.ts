// `antitheft pki ...`: the deployment's CA and the transport certificates of brokers, registries,
// ledger links, HTTPS servers and handsets (docs/PROTOCOL.md §2.1; transport/pki-dir.ts).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Command } from "../command.js";
import { CliError } from "../command.js";
import { parseFlags, required } from "./device-common.js";

async function withPkiErrors<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    const { TransportError } = await import("../../transport/errors.js");
    if (e instanceof TransportError) throw new CliError(e.code, e.message.replace(/^E_[A-Z_]+: /, ""));
    throw e;
  }
}

function daysArg(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (!/^[1-9][0-9]{0,4}$/.test(s)) throw new CliError("E_USAGE", `--days must be a whole number of days, got "${s}"`, 2);
  return Number(s);
}

const initUsage = `Usage: antitheft pki init --dir PKI [--name "antitheft transport CA"] [--days 3650]

Creates the deployment's transport CA in the folder PKI: ca.crt (the broker's cafile, every
client's --ca), ca.key (mode 0600), an empty revocation list crl.pem (the broker's crlfile) and
index.json (what it issued). ECDSA P-256. A folder that already holds a CA is refused.`;

export const pkiInit: Command = {
  path: ["pki", "init"],
  summary: "create the transport CA (ECDSA P-256) for mutual TLS",
  usage: initUsage,
  run: (argv) =>
    withPkiErrors(async () => {
      const v = parseFlags(argv, { dir: { type: "string" }, name: { type: "string" }, days: { type: "string" } }, initUsage);
      const dir = required(v.dir, "dir", initUsage);
      const { initPki } = await import("../../transport/pki-dir.js");
      await initPki(dir, v.name ?? "antitheft transport CA", daysArg(v.days));
      process.stdout.write(`wrote ${dir}/ca.crt, ${dir}/ca.key (private), ${dir}/crl.pem, ${dir}/index.json\n`);
      return 0;
    }),
};

const issueUsage = `Usage: antitheft pki issue --dir PKI --cn NAME --out PREFIX [--server --host H ...] [--days N] [--force]

Issues a certificate under the CA in PKI for a new P-256 key: PREFIX.crt and PREFIX.key (0600).
--cn is the identity the broker's ACL knows (deploy/mosquitto/acl):
  at-r-<name>   a registry (antitheft registry --name <name>)
  at-l-<name>   that registry's ledger link (--ledger-cert/--ledger-key)
  <did>         a handset (antitheft factory provision --tls-ca issues these itself)
  at-lab        a conformance lab's harness (deploy/mosquitto/acl-lab only)
--server makes a server certificate (the broker, the registry's HTTPS) for each --host (DNS
name or IP address, at least one); otherwise a TLS client certificate.`;

export const pkiIssue: Command = {
  path: ["pki", "issue"],
  summary: "issue a client or server certificate under the transport CA",
  usage: issueUsage,
  run: (argv) =>
    withPkiErrors(async () => {
      const v = parseFlags(
        argv,
        { dir: { type: "string" }, cn: { type: "string" }, out: { type: "string" }, server: { type: "boolean" }, host: { type: "string", multiple: true }, days: { type: "string" }, force: { type: "boolean" } },
        issueUsage,
      );
      const dir = required(v.dir, "dir", issueUsage);
      const cn = required(v.cn, "cn", issueUsage);
      const out = required(v.out, "out", issueUsage);
      if (v.host && !v.server) throw new CliError("E_USAGE", "--host is for --server certificates", 2);
      if (!v.force) for (const p of [`${out}.crt`, `${out}.key`]) if (existsSync(p)) throw new CliError("E_EXISTS", `${p} exists; use --force to overwrite`);
      const days = daysArg(v.days);
      const { issueFromDir } = await import("../../transport/pki-dir.js");
      const issued = await issueFromDir(dir, { cn, usage: v.server ? "server" : "client", ...(v.host ? { hosts: v.host } : {}), ...(days !== undefined ? { days } : {}) });
      writeFileSync(`${out}.key`, issued.keyPem, { mode: 0o600 });
      writeFileSync(`${out}.crt`, issued.certPem);
      process.stdout.write(`wrote ${out}.crt and ${out}.key (private): CN=${cn}, ${v.server ? `server for ${v.host?.join(", ")}` : "TLS client"}\n`);
      return 0;
    }),
};

const revokeUsage = `Usage: antitheft pki revoke --dir PKI --cert FILE.crt

Revokes a certificate the CA in PKI issued and rewrites PKI/crl.pem. Copy it to the broker's
crlfile and reload Mosquitto (SIGHUP): the certificate is refused from the next connection on.`;

export const pkiRevoke: Command = {
  path: ["pki", "revoke"],
  summary: "revoke a transport certificate (rewrites crl.pem)",
  usage: revokeUsage,
  run: (argv) =>
    withPkiErrors(async () => {
      const v = parseFlags(argv, { dir: { type: "string" }, cert: { type: "string" } }, revokeUsage);
      const dir = required(v.dir, "dir", revokeUsage);
      const cert = required(v.cert, "cert", revokeUsage);
      let pem: string;
      try {
        pem = readFileSync(cert, "utf8");
      } catch (e) {
        throw new CliError("E_FILE", `cannot read ${cert}: ${(e as Error).message}`);
      }
      const { revokeInDir } = await import("../../transport/pki-dir.js");
      await revokeInDir(dir, pem);
      process.stdout.write(`revoked ${cert}; wrote ${dir}/crl.pem\n`);
      return 0;
    }),
};

const crlUsage = `Usage: antitheft pki crl --dir PKI

Re-signs PKI/crl.pem from the index (a CRL is valid 30 days: refresh it before it lapses, or
the broker refuses every client).`;

export const pkiCrl: Command = {
  path: ["pki", "crl"],
  summary: "re-sign the transport CA's revocation list",
  usage: crlUsage,
  run: (argv) =>
    withPkiErrors(async () => {
      const v = parseFlags(argv, { dir: { type: "string" } }, crlUsage);
      const dir = required(v.dir, "dir", crlUsage);
      const { writeCrl } = await import("../../transport/pki-dir.js");
      await writeCrl(dir);
      process.stdout.write(`wrote ${dir}/crl.pem\n`);
      return 0;
    }),
};

export const pkiCommands: Command[] = [pkiInit, pkiIssue, pkiRevoke, pkiCrl];
