// The project's small PKI for transport identities (docs/PROTOCOL.md §2.1): a CA, the
// certificates it issues (devices, registries, ledger links, brokers, HTTPS servers) and its
// certificate revocation list. ECDSA P-256 with SHA-256 everywhere (FIPS 186-5; RFC 5480 §2.1.1.1),
// the curve every broker and cloud IoT service accepts. X.509 structure comes from @peculiar/x509
// (RFC 5280); keys come from node:crypto (WebCrypto). No hand-written ASN.1.
//
// A subject is one CN: the device id (32 hex characters) for a handset, at-r-<name> for a
// registry, at-l-<name> for its ledger link, the host name for a server. Mosquitto's
// use_identity_as_username makes the CN the MQTT username, and the ACL grants rights by it.
import "reflect-metadata"; // @peculiar/x509 resolves its services through tsyringe, which needs it
import * as x509 from "@peculiar/x509";
import { createPrivateKey, randomBytes, webcrypto, X509Certificate, KeyObject } from "node:crypto";
import { isIP } from "node:net";
import { TransportError } from "./errors.js";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 86_400_000;

/** A certificate and its private key, both PEM. */
export interface Issued {
  readonly certPem: string;
  readonly keyPem: string;
}

/** A CA: its certificate and key (PEM). */
export interface CaMaterial extends Issued {}

export type CertUsage = "client" | "server";

export interface IssueInput {
  /** The subject's common name (see the module comment). */
  readonly cn: string;
  /** client: TLS client authentication (RFC 5280 §4.2.1.12 id-kp-clientAuth); server: a host's certificate. */
  readonly usage: CertUsage;
  /** Host names and IP addresses a server certificate is valid for (subjectAltName, RFC 5280 §4.2.1.6). */
  readonly hosts?: readonly string[];
  /** Validity in days from `notBefore` (default 825 for servers, 3650 for handsets and services). */
  readonly days?: number;
  /** Start of validity (default now - 5 minutes, for clock skew). */
  readonly notBefore?: Date;
}

/** CN rules: printable, no separators that would make an ACL pattern or a topic ambiguous. */
export function checkCommonName(cn: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(cn)) throw new TransportError("E_TLS_CONFIG", `a certificate CN must be 1..64 characters of [A-Za-z0-9._-], got ${JSON.stringify(cn)}`);
}

function serial(): string {
  const b = randomBytes(16);
  b[0]! &= 0x7f; // a positive INTEGER (RFC 5280 §4.1.2.2)
  b[0]! |= 0x01;
  return b.toString("hex");
}

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
}

function keyPem(k: CryptoKey): string {
  return KeyObject.from(k as unknown as webcrypto.CryptoKey).export({ type: "pkcs8", format: "pem" }) as string;
}

async function importPrivate(pem: string): Promise<CryptoKey> {
  let ko: KeyObject;
  try {
    ko = createPrivateKey(pem);
  } catch (e) {
    throw new TransportError("E_TLS_CONFIG", `not a PEM private key: ${(e as Error).message}`, { cause: e });
  }
  if (ko.asymmetricKeyType !== "ec" || ko.asymmetricKeyDetails?.namedCurve !== "prime256v1") throw new TransportError("E_TLS_CONFIG", "the CA key must be an ECDSA P-256 key");
  return (await webcrypto.subtle.importKey("pkcs8", ko.export({ type: "pkcs8", format: "der" }), ALG, false, ["sign"])) as unknown as CryptoKey;
}

/** A self-signed CA (basicConstraints cA, pathLen 0; keyCertSign and cRLSign), valid `days` (default 3650). */
export async function createCa(name: string, days = 3650): Promise<CaMaterial> {
  if (!/^[ -~]{1,64}$/.test(name)) throw new TransportError("E_TLS_CONFIG", "the CA name must be 1..64 printable ASCII characters");
  const keys = await newKeys();
  const notBefore = new Date(Date.now() - 300_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: [{ CN: [name] }],
    notBefore,
    notAfter: new Date(notBefore.getTime() + days * DAY_MS),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: keyPem(keys.privateKey) };
}

/** Issues a certificate under `ca` for a fresh P-256 key. */
export async function issueCertificate(ca: CaMaterial, input: IssueInput): Promise<Issued> {
  return (await certificateIssuer(ca)).issue(input);
}

/** Issues many certificates under one CA (its key imported and its certificate parsed once). */
export interface CertificateIssuer {
  issue(input: IssueInput): Promise<Issued>;
}

export async function certificateIssuer(ca: CaMaterial): Promise<CertificateIssuer> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importPrivate(ca.keyPem);
  const aki = await x509.AuthorityKeyIdentifierExtension.create(caCert, false);
  return {
    async issue(input) {
      checkCommonName(input.cn);
      const keys = await newKeys();
      const notBefore = input.notBefore ?? new Date(Date.now() - 300_000);
      const days = input.days ?? (input.usage === "server" ? 825 : 3650);
      if (!(days > 0 && days <= 36500)) throw new TransportError("E_TLS_CONFIG", "validity must be 1..36500 days");
      const hosts = input.hosts ?? [];
      if (input.usage === "server" && hosts.length === 0) throw new TransportError("E_TLS_CONFIG", "a server certificate needs at least one host name or IP address");
      const extensions: x509.Extension[] = [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([input.usage === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth], false),
        aki,
      ];
      if (hosts.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(hosts.map((h) => (isIP(h) ? { type: "ip" as const, value: h } : { type: "dns" as const, value: h }))));
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serial(),
        subject: [{ CN: [input.cn] }],
        issuer: caCert.subject,
        notBefore,
        notAfter: new Date(notBefore.getTime() + days * DAY_MS),
        signingAlgorithm: ALG,
        publicKey: keys.publicKey,
        signingKey: caKey,
        extensions,
      });
      return { certPem: cert.toString("pem"), keyPem: keyPem(keys.privateKey) };
    },
  };
}

/** The serial number (lowercase hex) of a PEM certificate. */
export function serialOf(certPem: string): string {
  return new X509Certificate(certPem).serialNumber.toLowerCase();
}

/**
 * A CRL (RFC 5280 §5) signed by `ca` listing `revoked` serial numbers (hex), valid for
 * `days` (default 30): the broker's `crlfile`. An empty list is a valid CRL too.
 */
export async function createCrl(ca: CaMaterial, revoked: readonly { serial: string; date: Date }[], days = 30): Promise<string> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const thisUpdate = new Date(Date.now() - 300_000);
  const crl = await x509.X509CrlGenerator.create({
    issuer: caCert.subject,
    thisUpdate,
    nextUpdate: new Date(thisUpdate.getTime() + days * DAY_MS),
    entries: revoked.map((r) => ({ serialNumber: r.serial, revocationDate: r.date, reason: x509.X509CrlReason.unspecified })),
    signingAlgorithm: ALG,
    signingKey: await importPrivate(ca.keyPem),
    // No cRLNumber (RFC 5280 §5.2.3): @peculiar/x509 has no class for it, and OpenSSL (Mosquitto's
    // crlfile, node:tls) does not require it. The file is replaced whole on every revocation.
    extensions: [await x509.AuthorityKeyIdentifierExtension.create(caCert, false)],
  });
  // OpenSSL reads the RFC 7468 §5 label "X509 CRL" (the library writes "CRL").
  return x509.PemConverter.encode(crl.rawData, "X509 CRL");
}
