// The transport flags every networked command shares (docs/PROTOCOL.md §2.1):
//   --ca FILE          CA certificate the broker's (or registry's HTTPS) certificate must chain to
//   --cert/--key FILE  our TLS client certificate and key (mutual TLS)
//   --username/--password  MQTT credentials (managed brokers); the password may instead come from
//                      the environment variable ANTITHEFT_MQTT_PASSWORD (kept out of `ps`)
// Loaded and checked before anything connects; problems are CLI errors with stable codes.
import { CliError } from "../command.js";
import { loadClientTls, type ClientTls, type ClientTlsFiles } from "../../transport/client-tls.js";
import { TransportError } from "../../transport/errors.js";
import type { MqttSecurity } from "../../transport/mqtt-options.js";
import { fetchWithCa } from "../../transport/https.js";
import { RegistryClient } from "../../registry/client.js";

export const TRANSPORT_FLAGS = {
  ca: { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  username: { type: "string" },
  password: { type: "string" },
} as const;

export const TRANSPORT_USAGE = `  --ca FILE         the CA certificate (PEM) the broker's certificate must chain to (mqtts://)
  --cert, --key     our TLS client certificate and key (PEM) for mutual TLS (antitheft pki issue)
  --username, --password   MQTT credentials for brokers that use passwords (the password may come
                    from the environment variable ANTITHEFT_MQTT_PASSWORD instead)`;

/** A TransportError as a CliError with the same code. */
export function transportCliError(e: unknown): never {
  if (e instanceof TransportError) throw new CliError(e.code, e.message.replace(/^E_[A-Z_]+: /, ""));
  throw e;
}

export function loadTlsFlags(files: ClientTlsFiles): ClientTls {
  try {
    return loadClientTls(files);
  } catch (e) {
    transportCliError(e);
  }
}

/** MqttSecurity from the parsed flags; `fallback` supplies files the flags leave out (a handset folder's). */
export function mqttSecurityFromFlags(
  v: { ca?: string; cert?: string; key?: string; username?: string; password?: string },
  broker: string,
  fallback?: ClientTlsFiles,
): MqttSecurity | undefined {
  const files: ClientTlsFiles = {
    ...(fallback ?? {}),
    ...(v.ca !== undefined ? { ca: v.ca } : {}),
    ...(v.cert !== undefined ? { cert: v.cert, key: v.key } : {}),
    ...(v.cert === undefined && v.key !== undefined ? { key: v.key } : {}),
  } as ClientTlsFiles;
  const tlsUrl = /^(mqtts|tls|wss):/i.test(broker);
  if (!tlsUrl && (v.ca || v.cert || v.key)) throw new CliError("E_USAGE", `--ca, --cert and --key need an mqtts:// broker URL, got ${broker}`, 2);
  const password = v.password ?? process.env.ANTITHEFT_MQTT_PASSWORD;
  if (password !== undefined && v.username === undefined) throw new CliError("E_USAGE", "a password needs --username", 2);
  const tls = tlsUrl && (files.ca || files.cert || files.key) ? loadTlsFlags(files) : undefined;
  if (!tls && v.username === undefined) return undefined;
  return { ...(tls ? { tls } : {}), ...(v.username !== undefined ? { credentials: { username: v.username, ...(password !== undefined ? { password } : {}) } } : {}) };
}

/**
 * A RegistryClient for the owner and authority commands: with ANTITHEFT_REGISTRY_CA=FILE in the
 * environment, an https:// registry's certificate must chain to that CA (a private PKI);
 * otherwise the system's roots apply.
 */
export function registryClientFor(url: string): RegistryClient {
  const caFile = process.env.ANTITHEFT_REGISTRY_CA;
  if (!caFile) return new RegistryClient(url);
  return new RegistryClient(url, { fetch: fetchWithCa(loadTlsFlags({ ca: caFile }).ca!) });
}
