// MQTT.js connection options for one party's transport identity (docs/PROTOCOL.md §2.1):
// TLS 1.2+ with the server verified against `ca` and, for mutual TLS, our certificate and key;
// or/and a username and password for managed brokers. Every MQTT client of the project - agent,
// registry, ledger link, sim, conformance - takes its options from here.
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { ClientTls, Credentials } from "./client-tls.js";
import { isTlsUrl } from "./client-tls.js";
import { TransportError } from "./errors.js";

export interface MqttSecurity {
  readonly tls?: ClientTls;
  readonly credentials?: Credentials;
}

/** The options to merge into an MQTT.js client's for `url`. Throws if TLS material is given for a plain URL. */
export function mqttSecurityOptions(url: string, s: MqttSecurity | undefined): Partial<IClientOptions> {
  if (!s) return {};
  const tls = s.tls;
  const hasTls = tls !== undefined && (tls.ca !== undefined || tls.cert !== undefined);
  if (hasTls && !isTlsUrl(url)) throw new TransportError("E_TLS_CONFIG", `--ca/--cert/--key need an mqtts:// broker URL, got ${url}`);
  return {
    ...(tls?.ca ? { ca: tls.ca } : {}),
    ...(tls?.cert ? { cert: tls.cert, key: tls.key } : {}),
    ...(isTlsUrl(url) ? { rejectUnauthorized: true, minVersion: "TLSv1.2" as const } : {}),
    ...(s.credentials?.username !== undefined ? { username: s.credentials.username } : {}),
    ...(s.credentials?.password !== undefined ? { password: s.credentials.password } : {}),
  };
}

/** An MQTT client factory (registry/mqtt-service.ts MqttFactory) that adds the security options. */
export function securedMqttFactory(s: MqttSecurity | undefined): (url: string, options: IClientOptions) => MqttClient {
  return (url, options) => mqtt.connect(url, { ...options, ...mqttSecurityOptions(url, s) });
}
