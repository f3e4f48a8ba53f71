// The simulator's and conformance suite's parties on a broker with mutual TLS (docs/PROTOCOL.md
// §2.1, docs/CONFORMANCE.md "Over mutual TLS"): the harness (observer, attacker) connects as the
// lab identity (`antitheft pki issue at-lab`, allowed by deploy/mosquitto/acl-lab); the virtual
// handsets and the in-process registry get certificates issued on the fly by the device CA (an
// `antitheft pki init` folder), each CN the identity the ACL knows it by: the device id, and
// at-r-<registry name>.
import { createSecureContext, type SecureContext } from "node:tls";
import type { MqttSecurity } from "../transport/mqtt-options.js";
import { certificateIssuer, type CaMaterial, type CertificateIssuer } from "../transport/pki.js";
import { liteTransport, type LiteTls } from "./mqtt-lite.js";
import { VirtualHandsetDriver, type VirtualHandsetOptions, type VirtualHandset } from "./handset.js";
import type { ProvisionSpec } from "./conformance/target.js";
import { deviceClientId } from "../protocol/messages.js";

export interface LabTls {
  /** The CA certificate (PEM) the broker's certificate chains to. */
  readonly caPem: string;
  /** The CA that issues the handsets' and the in-process registry's client certificates. */
  readonly deviceCa: CaMaterial;
  /** The harness's own identity (CN at-lab). */
  readonly harness: MqttSecurity;
}

/** A transport identity with CN `cn`, issued by the device CA. */
export async function issuedSecurity(tls: LabTls, cn: string): Promise<MqttSecurity> {
  const c = await (await certificateIssuer(tls.deviceCa)).issue({ cn, usage: "client" });
  return { tls: { ca: Buffer.from(tls.caPem), cert: Buffer.from(c.certPem), key: Buffer.from(c.keyPem), identity: cn } };
}

/**
 * EmbeddedSite options for the in-process registry: named "registry" (the shipped ACL's blocks
 * at-r-registry and at-l-registry), each of its two MQTT links with its own certificate.
 */
export async function labSiteOptions(tls: LabTls): Promise<{ name: string; mqttSecurity: MqttSecurity; ledgerMqttSecurity: MqttSecurity }> {
  return { name: "registry", mqttSecurity: await issuedSecurity(tls, "at-r-registry"), ledgerMqttSecurity: await issuedSecurity(tls, "at-l-registry") };
}

/** The member registries the suite plays (pinned by the embedded registry under these names). */
export const LAB_LEDGER_PEERS = ["conformance-peer-1", "conformance-peer-2"] as const;

/**
 * The suite's two member registries' ledger-link identities, CN at-l-<peer name> (the ACL's
 * naming for ledger clients; deploy/mosquitto/acl-lab grants these two the ledger topics), issued
 * once on first use.
 */
export function labPeerSecurity(tls: LabTls): () => Promise<readonly [MqttSecurity, MqttSecurity]> {
  let made: Promise<readonly [MqttSecurity, MqttSecurity]> | undefined;
  return () => (made ??= Promise.all(LAB_LEDGER_PEERS.map((n) => issuedSecurity(tls, `at-l-${n}`))).then(([a, b]) => [a!, b!] as const));
}

/**
 * Virtual handsets on the lean MQTT client over mutual TLS: each provisioned handset gets a
 * certificate with its device id as CN (the ACL's %u), kept in its own SecureContext.
 */
export class TlsVirtualHandsetDriver extends VirtualHandsetDriver {
  readonly #identities: Map<string, { cert: string; key: string } | SecureContext>;
  readonly #issuer: Promise<CertificateIssuer>;

  constructor(brokerUrl: string, tls: LabTls, options: Omit<VirtualHandsetOptions, "transport">) {
    const identities = new Map<string, { cert: string; key: string } | SecureContext>();
    const lite: LiteTls = {
      contextFor(clientId) {
        const id = identities.get(clientId);
        if (!id) throw new Error(`no transport identity for ${clientId}`);
        if (!("cert" in id)) return id;
        const ctx = createSecureContext({ ca: tls.caPem, cert: id.cert, key: id.key, minVersion: "TLSv1.2" });
        identities.set(clientId, ctx);
        return ctx;
      },
    };
    super({ ...options, transport: liteTransport(brokerUrl, lite) }, "virtual handsets (in-process agent + TA, lite MQTT client, mutual TLS)");
    this.#identities = identities;
    this.#issuer = certificateIssuer(tls.deviceCa);
  }

  override async provision(spec: ProvisionSpec): Promise<VirtualHandset> {
    const h = await super.provision(spec);
    const c = await (await this.#issuer).issue({ cn: h.did, usage: "client" });
    this.#identities.set(deviceClientId(h.did), { cert: c.certPem, key: c.keyPem });
    return h;
  }
}
