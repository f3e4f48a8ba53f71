// Targets for the suite: the embedded site (our registry on the embedded or a given broker, our
// handsets), and the pieces a third-party target is assembled from (docs/CONFORMANCE.md).
import { mqttTransport, type Transport } from "../../agent/mqtt-link.js";
import { liteTransport } from "../mqtt-lite.js";
import type { EmbeddedSite } from "../embedded.js";
import { VirtualHandsetDriver, type VirtualHandsetOptions } from "../handset.js";
import type { HandsetDriver, Target } from "./target.js";
import { TlsVirtualHandsetDriver, labPeerSecurity, type LabTls } from "../lab-tls.js";
import { tamperLedgerFile } from "./ledger-tamper.js";
import { tamperLedgerPostgres } from "./ledger-tamper-pg.js";
import { isPostgresUrl } from "../../registry/store.js";

export interface SiteTargetOptions {
  readonly site: EmbeddedSite;
  readonly module: WebAssembly.Module;
  /** Another driver (a third-party agent's, or a broken one). */
  readonly driver?: HandsetDriver;
  /** Options for the default virtual-handset driver. */
  readonly handsets?: Partial<VirtualHandsetOptions>;
  /** The default driver's MQTT client (default MQTT.js). */
  readonly transport?: TransportKind;
  /** Restarts an external broker (the embedded one restarts itself). */
  readonly restartBroker?: () => Promise<void>;
  readonly name?: string;
  /** An mqtts:// broker: the harness's identity and the device CA for the handsets (simulator/lab-tls.ts). */
  readonly tls?: LabTls;
}

export type TransportKind = "mqtt.js" | "lite";

/** A handset transport to `brokerUrl`: MQTT.js (the agent's default) or the lean fleet client. */
export function transportFor(kind: TransportKind, brokerUrl: string): Transport {
  return kind === "lite" ? liteTransport(brokerUrl) : mqttTransport(brokerUrl);
}

/** The default handset driver for a broker: virtual handsets over MQTT.js (or the lite client). */
export function virtualDriver(module: WebAssembly.Module, brokerUrl: string, mqttVersion: 4 | 5, more: Partial<VirtualHandsetOptions> = {}, kind: TransportKind = "mqtt.js"): VirtualHandsetDriver {
  const name = `virtual handsets (in-process agent + TA, ${kind === "lite" ? "lite MQTT client" : "MQTT.js"})`;
  return new VirtualHandsetDriver({ module, transport: transportFor(kind, brokerUrl), mqttVersion, ...more }, name);
}

export function siteTarget(o: SiteTargetOptions): Target {
  const { site } = o;
  const driver = o.driver ?? (o.tls
    ? new TlsVirtualHandsetDriver(site.brokerUrl, o.tls, { module: o.module, mqttVersion: site.mqttVersion, measurement: site.acceptedMeasurement, ...o.handsets })
    : virtualDriver(o.module, site.brokerUrl, site.mqttVersion, { measurement: site.acceptedMeasurement, ...o.handsets }, o.transport));
  const restartBroker = o.restartBroker ?? (site.broker ? () => site.broker!.restart() : undefined);
  return {
    name: o.name ?? `reference registry (${site.broker ? "embedded aedes" : site.brokerUrl}, MQTT ${site.mqttVersion === 5 ? "5" : "3.1.1"})`,
    brokerUrl: site.brokerUrl,
    ...(o.tls ? { brokerSecurity: o.tls.harness } : {}),
    mqttVersion: site.mqttVersion,
    registryUrl: () => site.registryUrl(),
    registryPublic: site.registryKey.publicKey,
    oem: site.oem.signer,
    authority: site.authority.signer,
    rangedOem: { signer: site.rangedOem.signer, tac: site.rangedTac },
    acceptedMeasurement: site.acceptedMeasurement,
    ...(restartBroker ? { restartBroker } : {}),
    restartRegistry: () => site.restartRegistry(),
    // The embedded registry federates with the suite's peers, and its database file is at hand.
    // Over mutual TLS each peer has its own ledger-link certificate (docs/CONFORMANCE.md "Over
    // mutual TLS").
    ...(site.options.ledger
      ? {
          ledger: { peers: site.ledgerPeers, federationKey: site.federationKey, ...(o.tls ? { peerSecurity: labPeerSecurity(o.tls) } : {}) },
          tamperLedger: async () => (isPostgresUrl(site.dbPath) ? tamperLedgerPostgres(site.dbPath) : tamperLedgerFile(site.dbPath)),
        }
      : {}),
    driver,
  };
}
