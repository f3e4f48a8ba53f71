// A client's transport credentials, loaded and checked at the boundary (docs/PROTOCOL.md §2.1):
// the CA that must have issued the server's certificate (--ca), our certificate and key
// (--cert, --key) for mutual TLS, and/or a username and password (managed brokers). Checked
// before any connection: files readable, the key matches the certificate, the certificate is
// within its validity period - each a TransportError with a stable code.
import { readFileSync } from "node:fs";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { TransportError } from "./errors.js";

export interface ClientTlsFiles {
  /** PEM CA certificate(s) the server's certificate must chain to (default: the system's roots). */
  readonly ca?: string;
  /** Our PEM certificate (mutual TLS); needs `key`. */
  readonly cert?: string;
  /** Our PEM private key; needs `cert`. */
  readonly key?: string;
}

/** Loaded, checked credentials. */
export interface ClientTls {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Our certificate's subject CN (the identity the broker's ACL knows us by). */
  readonly identity?: string;
  /** Our certificate's notAfter. */
  readonly expires?: Date;
}

export interface Credentials {
  readonly username?: string;
  readonly password?: string;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TransportError("E_TLS_CONFIG", `cannot read the ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
}

/** The CN of a certificate's subject (the last CN if several). */
export function commonName(cert: X509Certificate): string | undefined {
  const cns = cert.subject.split("\n").filter((l) => l.startsWith("CN=")).map((l) => l.slice(3));
  return cns[cns.length - 1];
}

/** Loads and checks the files; `now` is injectable for the validity check. */
export function loadClientTls(files: ClientTlsFiles, now: () => number = Date.now): ClientTls {
  if ((files.cert === undefined) !== (files.key === undefined)) throw new TransportError("E_TLS_CONFIG", "--cert and --key go together");
  const ca = files.ca !== undefined ? readPem(files.ca, "CA certificate") : undefined;
  if (ca) {
    try {
      new X509Certificate(ca);
    } catch (e) {
      throw new TransportError("E_TLS_CONFIG", `${files.ca} is not a PEM certificate: ${(e as Error).message}`, { cause: e });
    }
  }
  if (files.cert === undefined || files.key === undefined) return { ...(ca ? { ca } : {}) };
  const cert = readPem(files.cert, "certificate");
  const key = readPem(files.key, "private key");
  let x: X509Certificate;
  try {
    x = new X509Certificate(cert);
  } catch (e) {
    throw new TransportError("E_TLS_CONFIG", `${files.cert} is not a PEM certificate: ${(e as Error).message}`, { cause: e });
  }
  let matches: boolean;
  try {
    matches = x.checkPrivateKey(createPrivateKey(key));
  } catch (e) {
    throw new TransportError("E_TLS_CONFIG", `${files.key} is not a PEM private key: ${(e as Error).message}`, { cause: e });
  }
  if (!matches) throw new TransportError("E_TLS_CONFIG", `${files.key} is not the key of the certificate ${files.cert}`);
  const t = now();
  const notBefore = Date.parse(x.validFrom);
  const notAfter = Date.parse(x.validTo);
  if (t > notAfter) throw new TransportError("E_TLS_CERT_EXPIRED", `our certificate ${files.cert} expired on ${new Date(notAfter).toISOString()}`);
  if (t < notBefore) throw new TransportError("E_TLS_CERT_EXPIRED", `our certificate ${files.cert} is not valid before ${new Date(notBefore).toISOString()}`);
  const identity = commonName(x);
  return { ...(ca ? { ca } : {}), cert, key, ...(identity ? { identity } : {}), expires: new Date(notAfter) };
}

/** A broker or registry URL that needs TLS. */
export function isTlsUrl(url: string): boolean {
  return /^(mqtts|tls|wss|https):/i.test(url);
}
