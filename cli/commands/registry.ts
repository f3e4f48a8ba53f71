// `antitheft registry ...`: run the reference stolen-device registry, and make its command key.
import { existsSync, readFileSync } from "node:fs";
import type { Command } from "../command.js";
import { CliError } from "../command.js";
import { parseFlags, required } from "./device-common.js";
import { toHex } from "../../attestation/index.js";
import { toolVersion } from "../version.js";
import { loadPublicKey, loadSigningKey, publicPathFor, writeKeyPair } from "../../registry/keys.js";
import { parseTacRanges, type PinnedOem } from "../../registry/oem-ranges.js";
import type { BucketLimit } from "../../registry/rate-limits.js";
import { RegistryError } from "../../registry/errors.js";
import { LOG_FLAGS, LOG_USAGE, loggerFromFlags } from "../logging.js";
import { withConfigFile } from "../config-file.js";
import type { Registry } from "../../registry/registry.js";
import { FederationKey } from "../../registry/ledger/pseudonym.js";
import { parseCosignerKey } from "../../registry/ledger/cosignature.js";
import { parseWitnessPolicy, type WitnessPolicy } from "../../registry/ledger/witness-policy.js";
import { loadTlsFlags, mqttSecurityFromFlags, transportCliError, TRANSPORT_FLAGS, TRANSPORT_USAGE } from "./transport-flags.js";
import { isLoopback, loadServerTls, type ServerTls } from "../../transport/https.js";
import { securedMqttFactory, type MqttSecurity } from "../../transport/mqtt-options.js";
import { isPermanentRefusal } from "../../transport/errors.js";

/** A `<who> keygen --out FILE [--force]` command writing an Ed25519 PEM pair. */
export function keygenCommand(who: string, summary: string, purpose: string): Command {
  const usage = `Usage: antitheft ${who} keygen --out ${who}.key [--force]

${purpose}
Writes the private key as PKCS#8 PEM to --out (mode 0600) and the public key as SPKI PEM next
to it (${who}.key -> ${who}.pub). Existing files are kept unless --force is given.`;
  return {
    path: [who, "keygen"],
    summary,
    usage,
    async run(argv) {
      const v = parseFlags(argv, { out: { type: "string" }, force: { type: "boolean" } }, usage);
      const out = required(v.out, "out", usage);
      if (!v.force) for (const p of [out, publicPathFor(out)]) if (existsSync(p)) throw new CliError("E_EXISTS", `${p} exists; use --force to overwrite`);
      let r;
      try {
        r = writeKeyPair(out, true);
      } catch (e) {
        throw new CliError("E_FILE", `cannot write the key files: ${(e as Error).message}`);
      }
      process.stdout.write(`wrote ${r.keyPath} (private, PKCS#8) and ${r.pubPath} (public, SPKI); kid ${toHex(r.kid)}\n`);
      return 0;
    },
  };
}

export const registryKeygen = keygenCommand(
  "registry",
  "generate the registry's command key pair (PEM)",
  "Generates the registry's command key (Ed25519). Factories provision its public key into every\nTA; the registry signs lock/unlock commands with the private key.",
);

const usage = `Usage: antitheft registry --broker mqtt://HOST:PORT --db registry.sqlite --key registry.key
                          --oem-pub oem.pub[:TACS] [--oem-pub ...] [--authority-pub authority.pub ...]
                          [--http 127.0.0.1:8080] [--mqtt-version 4|5] [--name registry]
                          [--share-group GROUP] [--measurement HEX ...] [--log text|json] [--log-level LEVEL]
                          [--federation-key FILE [--peer-pub NAME=FILE ...] [--federation-broker URL]
                           [--witness URL=KEY ...] [--witness-policy FILE] [--ledger-get-limit N]]
                          [--limit-device B/R] [--limit-owner B/R] [--limit-authority B/R]
                          [--ca FILE --cert FILE --cert-key FILE] [--username NAME [--password SECRET]]
                          [--ledger-cert FILE --ledger-key FILE] [--tls-cert FILE --tls-key FILE]
                          [--insecure-http] [--portal-origin URL ...] [--portal-rp-id HOST]
       antitheft registry --config registry.json [any flag above, overriding the file]

Runs the reference stolen-device registry (docs/PROTOCOL.md): enrols handsets whose OEM
endorsement chains to a pinned --oem-pub, detects clones, takes signed owner and authority
requests over HTTP, signs lock/unlock commands with --key, tracks their results, and answers
networks on GET /n5g-eir-eic/v1/equipment-status?pei=imei-<15 digits> (3GPP TS 29.511).

  --broker          MQTT broker URL (mqtt:// or mqtts://)
  --db              SQLite database file (created if absent; WAL, synchronous=FULL), or a
                    PostgreSQL database URL postgres://USER@HOST:PORT/DB (migrated on start;
                    several registry processes may share it: docs/STORAGE.md)
  --key             the registry's command key (antitheft registry keygen)
  --oem-pub         a pinned OEM root public key (SPKI PEM); repeat for several OEMs. FILE:TACS
                    pins it for those TACs only, e.g. oem.pub:35123400-35123499,86123456: an
                    endorsement of an IMEI outside them is refused (without TACS: any TAC)
  --authority-pub   a pinned authority key (operator, police) that may flag and clear
  --http            HOST:PORT for the HTTP interface (default 127.0.0.1:8080; port 0 = any)
  --mqtt-version    4 (MQTT 3.1.1, e.g. aedes; default) or 5 (e.g. Mosquitto)
  --name            registry name; its MQTT client id is at-r-<name> (default "registry")
  --share-group     MQTT 5 only: subscribe as $share/<GROUP>/... to split load across workers
                    on one --db (each worker its own --name; docs/CONFORMANCE.md)
  --measurement     an accepted agent measurement (hex); others are flagged tampered
${LOG_USAGE}
  --federation-key  keep the tamper-evident ledger (docs/LEDGER.md) and federate: FILE holds the
                    federation's 32-byte pseudonymisation key in hex (openssl rand -hex 32)
  --peer-pub        a peer registry's public key (SPKI PEM), as NAME=FILE or FILE: its flags apply here
  --federation-broker  the broker the federation shares (default: --broker)
  --limit-device    hellos and heartbeats per device id: BURST/PER_SECOND (default 20/0.2)
  --limit-owner     requests per owner key (default 30/0.5); over it: 429 E_RATE_LIMITED
  --limit-authority requests per authority key (default 2000/50; a flag-batch is one request)
  --witness         a C2SP tlog-witness to cosign this registry's checkpoints, as URL=COSIGNER-KEY
                    (the key antitheft witness prints); repeat for several
  --witness-policy  FILE: {"quorum": N, "witnesses": ["<cosigner key>", ...]}: peers' flags apply
                    only once a checkpoint covering them has N of these cosignatures (LEDGER.md §7.2)
  --ledger-get-limit   messages (entries + heads) a member's signed ledger gets may make this
                    registry publish per minute (default 2048; docs/LEDGER.md §6.1)
  --portal-origin   the origin owners open the portal on (passkeys are bound to it), e.g.
                    https://registry.example; repeat for several (default http://localhost:PORT)
  --portal-rp-id    the passkeys' relying party id: the origin's host or a parent domain of it
                    (default localhost; docs/PORTAL.md §1)

Transport security (docs/PROTOCOL.md §2.1; deploy/mosquitto/ for the broker's side); --key being
the command key, the TLS client key is --cert-key here:
${TRANSPORT_USAGE.replace("--cert, --key    ", "--cert, --cert-key")}
  --ledger-cert, --ledger-key  the ledger link's own client certificate (CN at-l-<name>): with
                    mutual TLS and --federation-key it is required (the ACL gives the registry's
                    and the ledger link's identities different rights)
  --tls-cert, --tls-key   serve HTTPS with this certificate and key (antitheft pki issue --server)
  --insecure-http   allow plain HTTP on a non-loopback --http address (without --tls-cert, plain
                    HTTP is served on loopback addresses only)

  --config          FILE: a JSON object of these flags without "--", e.g. {"broker": "mqtt://...",
                    "db": "registry.sqlite", "oem-pub": ["oem.pub"], "mqtt-version": 5}; a flag on
                    the command line overrides the file's (deploy/registry.example.json)

GET /healthz answers liveness and readiness (database, broker) and GET /metrics the Prometheus
text metrics. Start-up is logged as the event registry.started (with its HTTP URL).
Stops cleanly on SIGINT or SIGTERM. State survives kill -9: every change is committed durably
before it is acknowledged.`;

function witnessArg(s: string): { url: string; key: string } {
  const m = /^(https?:\/\/[^=]+)=(.+)$/.exec(s);
  if (!m || !parseCosignerKey(m[2]!).ok) throw new CliError("E_USAGE", `--witness must be URL=COSIGNER-KEY, got "${s}"`, 2);
  return { url: m[1]!, key: m[2]! };
}

function policyFile(path: string): WitnessPolicy {
  try {
    return parseWitnessPolicy(readFileSync(path, "utf8"));
  } catch (e) {
    throw new CliError("E_USAGE", `--witness-policy ${path}: ${(e as Error).message}`, 2);
  }
}

function getLimit(s: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(s)) throw new CliError("E_USAGE", `--ledger-get-limit must be a positive integer (messages per minute), got "${s}"`, 2);
  return Number(s);
}

function hostPort(s: string): { host: string; port: number } {
  const m = /^(.*):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || port > 65535) throw new CliError("E_USAGE", `--http must be HOST:PORT, got "${s}"`, 2);
  return { host: m[1].replace(/^\[(.*)\]$/, "$1"), port };
}

/** --oem-pub FILE or FILE:TACS (TACS as in oem-ranges.ts: "35123400-35123499,86123456"). */
function oemPubArg(arg: string): PinnedOem {
  const m = /^(.*):([0-9][0-9,-]*)$/.exec(arg);
  if (!m) return { key: loadPublicKey(arg) };
  return { key: loadPublicKey(m[1]!), tacs: parseTacRanges(m[2]!) };
}

/** BURST/PER_SECOND, e.g. 20/0.2. */
function limitArg(flag: string, s: string): BucketLimit {
  const m = /^([0-9]+)\/([0-9]+(?:\.[0-9]+)?)$/.exec(s);
  if (!m || Number(m[1]) < 1) throw new CliError("E_USAGE", `--${flag} must be BURST/PER_SECOND (e.g. 20/0.2, BURST >= 1), got "${s}"`, 2);
  return { burst: Number(m[1]), perSecond: Number(m[2]) };
}

const REGISTRY_FLAGS = {
  config: { type: "string" },
  broker: { type: "string" },
  db: { type: "string" },
  key: { type: "string" },
  "oem-pub": { type: "string", multiple: true },
  "authority-pub": { type: "string", multiple: true },
  http: { type: "string" },
  "mqtt-version": { type: "string" },
  name: { type: "string" },
  "share-group": { type: "string" },
  measurement: { type: "string", multiple: true },
  ...LOG_FLAGS,
  "federation-key": { type: "string" },
  "peer-pub": { type: "string", multiple: true },
  "federation-broker": { type: "string" },
  "limit-device": { type: "string" },
  "limit-owner": { type: "string" },
  "limit-authority": { type: "string" },
  "ledger-get-limit": { type: "string" },
  witness: { type: "string", multiple: true },
  "witness-policy": { type: "string" },
  ca: TRANSPORT_FLAGS.ca,
  cert: TRANSPORT_FLAGS.cert,
  "cert-key": TRANSPORT_FLAGS.key, // --key is the command key here
  username: TRANSPORT_FLAGS.username,
  password: TRANSPORT_FLAGS.password,
  "ledger-cert": { type: "string" },
  "ledger-key": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "insecure-http": { type: "boolean" },
  "portal-origin": { type: "string", multiple: true },
  "portal-rp-id": { type: "string" },
} as const;

export const registryRun: Command = {
  path: ["registry"],
  summary: "run the stolen-device registry (MQTT + HTTP, SQLite)",
  usage,
  async run(argv) {
    const cli = parseFlags(argv, REGISTRY_FLAGS, usage);
    const v = withConfigFile(cli, cli.config, REGISTRY_FLAGS);
    const broker = required(v.broker, "broker", usage);
    const db = required(v.db, "db", usage);
    const keyPath = required(v.key, "key", usage);
    const oemPubs = v["oem-pub"] ?? [];
    if (oemPubs.length === 0) throw new CliError("E_USAGE", `at least one --oem-pub is required\n\n${usage}`, 2);
    const version = v["mqtt-version"] ?? "4";
    if (version !== "4" && version !== "5") throw new CliError("E_USAGE", "--mqtt-version must be 4 or 5", 2);
    const { logger: log } = loggerFromFlags(v);
    // MQTT 5 shared subscriptions ($share/GROUP/...) do not exist in MQTT 3.1.1: a configuration
    // mistake, said as such (not a failure of the database or the broker later on).
    if (v["share-group"] !== undefined && version !== "5") throw new CliError("E_USAGE", "--share-group needs --mqtt-version 5 (MQTT 5 shared subscriptions)", 2);
    const http = hostPort(v.http ?? "127.0.0.1:8080");
    for (const m of v.measurement ?? []) if (!/^([0-9a-fA-F]{2}){1,64}$/.test(m)) throw new CliError("E_USAGE", `--measurement must be 1..64 bytes of hex`, 2);
    const name = v.name ?? "registry";
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) throw new CliError("E_USAGE", "--name must be 1..64 characters of A-Z a-z 0-9 . _ -", 2);

    // Transport security (PROTOCOL.md §2.1): checked before anything starts.
    const security = mqttSecurityFromFlags({ ...v, key: v["cert-key"] }, broker);
    const fedBroker = v["federation-broker"] ?? broker;
    if ((v["ledger-cert"] === undefined) !== (v["ledger-key"] === undefined)) throw new CliError("E_USAGE", "--ledger-cert and --ledger-key go together", 2);
    if (v["ledger-cert"] && !v["federation-key"]) throw new CliError("E_USAGE", "--ledger-cert needs --federation-key", 2);
    if (v["federation-key"] && security?.tls?.cert && !v["ledger-cert"] && fedBroker === broker)
      throw new CliError("E_USAGE", "with mutual TLS the ledger link needs its own certificate (--ledger-cert/--ledger-key, CN at-l-<name>): the registry's would make the two links one client", 2);
    const ledgerSecurity: MqttSecurity | undefined = v["ledger-cert"]
      ? { tls: loadTlsFlags({ ...(v.ca ? { ca: v.ca } : {}), cert: v["ledger-cert"], key: v["ledger-key"]! }) }
      : security;
    if ((v["tls-cert"] === undefined) !== (v["tls-key"] === undefined)) throw new CliError("E_USAGE", "--tls-cert and --tls-key go together", 2);
    let httpTls: ServerTls | undefined;
    try {
      httpTls = v["tls-cert"] ? loadServerTls(v["tls-cert"], v["tls-key"]!) : undefined;
    } catch (e) {
      transportCliError(e);
    }
    if (!httpTls && !isLoopback(http.host) && !v["insecure-http"])
      throw new CliError("E_USAGE", `plain HTTP on ${http.host} would be readable on the network: give --tls-cert/--tls-key, listen on a loopback address, or pass --insecure-http`, 2);
    if (!v["federation-key"] && (v["peer-pub"] || v["federation-broker"] || v["ledger-get-limit"] || v.witness || v["witness-policy"])) throw new CliError("E_USAGE", "--peer-pub, --federation-broker, --witness, --witness-policy and --ledger-get-limit need --federation-key", 2);
    const ledger = v["federation-key"]
      ? {
          federationKey: FederationKey.fromFile(v["federation-key"]),
          name,
          peers: (v["peer-pub"] ?? []).map((p) => {
            const m = /^([A-Za-z0-9._-]{1,64})=(.+)$/.exec(p);
            return m ? { name: m[1]!, publicKey: loadPublicKey(m[2]!) } : { publicKey: loadPublicKey(p) };
          }),
          ...(v.witness?.length ? { witnesses: v.witness.map(witnessArg) } : {}),
          ...(v["witness-policy"] ? { witnessPolicy: policyFile(v["witness-policy"]) } : {}),
          ...(v["ledger-get-limit"] ? { getLimit: { messages: getLimit(v["ledger-get-limit"]), perMs: 60_000 } } : {}),
          ...(v["federation-broker"] || ledgerSecurity !== security
            ? { mqtt: { url: fedBroker, name, protocolVersion: (version === "5" ? 5 : 4) as 4 | 5, ...(ledgerSecurity ? { factory: securedMqttFactory(ledgerSecurity) } : {}) } }
            : {}),
        }
      : undefined;
    const registryKey = loadSigningKey(keyPath);
    const oemRoots = oemPubs.map(oemPubArg);
    const rateLimits = {
      ...(v["limit-device"] ? { device: limitArg("limit-device", v["limit-device"]) } : {}),
      ...(v["limit-owner"] ? { owner: limitArg("limit-owner", v["limit-owner"]) } : {}),
      ...(v["limit-authority"] ? { authority: limitArg("limit-authority", v["limit-authority"]) } : {}),
    };
    const authorities = (v["authority-pub"] ?? []).map(loadPublicKey);
    const portal = portalArgs(v["portal-origin"], v["portal-rp-id"]);

    // Loaded here, not at the top: the other commands should not pay for MQTT and SQLite.
    const { Registry } = await import("../../registry/registry.js");
    let registry: Registry;
    try {
      registry = new Registry({
        db,
        registryKey,
        oemRoots,
        authorities,
        mqtt: { url: broker, name, protocolVersion: version === "5" ? 5 : 4, ...(v["share-group"] ? { shareGroup: v["share-group"] } : {}), ...(security ? { factory: securedMqttFactory(security) } : {}) },
        http: { ...http, ...(httpTls ? { tls: httpTls } : {}) },
        log,
        acceptedMeasurements: v.measurement ?? [],
        rateLimits,
        ...(ledger ? { ledger } : {}),
        version: toolVersion().version,
        ...(portal ? { portal } : {}),
      });
    } catch (e) {
      if (e instanceof RegistryError) throw new CliError(e.code, e.message);
      throw new CliError("E_DB", `cannot open the database ${db}: ${(e as Error).message}`);
    }
    const stopped = new Promise<string>((resolve) => {
      process.once("SIGINT", () => resolve("SIGINT"));
      process.once("SIGTERM", () => resolve("SIGTERM"));
    });
    try {
      await Promise.race([registry.start(), stopped.then((s) => Promise.reject(new CliError("E_STOPPED", `stopped by ${s} while starting`)))]);
    } catch (e) {
      await registry.stop().catch(() => {});
      if (e instanceof CliError) throw e;
      // The broker refused our certificate or identity, or we refused its (PROTOCOL.md §2.1):
      // retrying cannot heal it, so this is a configuration mistake (exit 2, not restarted).
      if (isPermanentRefusal(e)) throw new CliError(e.code, e.message.replace(/^E_[A-Z_]+: /, ""), 2);
      throw new CliError("E_START", `the registry could not start: ${(e as Error).message}`);
    }
    // The start-up banner is an event like any other (one stream, one format).
    log.log("info", "registry.started", {
      name,
      version: toolVersion().version,
      db,
      schema: registry.store.schemaVersion,
      devices: registry.store.devices.count(),
      kid: toHex(registryKey.kid),
      oemRoots: oemRoots.length,
      authorities: authorities.length,
      broker,
      mqtt: version === "5" ? "5" : "3.1.1",
      clientId: `at-r-${name}`,
      ...(security?.tls?.identity ? { certificate: security.tls.identity } : {}),
      ...(security?.credentials?.username ? { user: security.credentials.username } : {}),
      http: registry.httpUrl,
      portal: registry.portalUrl,
      check: `${registry.portalUrl}check`,
      ...(httpTls ? {} : { notice: `plain HTTP${isLoopback(http.host) ? ", on loopback only" : " on the network (--insecure-http)"}: give --tls-cert/--tls-key to serve HTTPS` }),
      ...(ledger ? { ledgerLog: toHex(registryKey.kid), peers: ledger.peers.length, federationKeyId: toHex(ledger.federationKey.id) } : {}),
      ...(registry.ledger ? { tlog: `${registry.httpUrl}/antitheft/v1/ledger/tlog/`, checkpointKey: registry.ledger.verifierKey } : {}),
    });
    const signal = await stopped;
    log.log("info", "registry.stopping", { signal });
    await registry.stop();
    log.log("info", "registry.stopped", {});
    return 0;
  },
};

/** Registered in cli/antitheft.ts (longest path wins, so "registry keygen" beats "registry"). */
export const registryCommands: Command[] = [registryRun, registryKeygen];

/** --portal-origin / --portal-rp-id (docs/PORTAL.md §1): origins are http(s) origins; the RP id is each one's host or a parent of it. */
function portalArgs(origins: readonly string[] | undefined, rpId: string | undefined): { origins?: string[]; rpId?: string } | undefined {
  if (!origins && rpId === undefined) return undefined;
  const list = (origins ?? []).map((o) => {
    let u: URL;
    try {
      u = new URL(o);
    } catch {
      throw new CliError("E_USAGE", `--portal-origin must be an http(s) origin, got "${o}"`, 2);
    }
    if ((u.protocol !== "http:" && u.protocol !== "https:") || u.origin !== o.replace(/\/$/, "")) throw new CliError("E_USAGE", `--portal-origin must be an http(s) origin (no path), got "${o}"`, 2);
    return u.origin;
  });
  const id = rpId ?? (list[0] ? new URL(list[0]).hostname : undefined);
  if (id !== undefined) {
    for (const o of list) {
      const host = new URL(o).hostname;
      if (host !== id && !host.endsWith(`.${id}`)) throw new CliError("E_USAGE", `--portal-rp-id ${id} is neither the host of ${o} nor a parent domain of it (WebAuthn §5.1.3)`, 2);
    }
  }
  return { ...(list.length ? { origins: list } : {}), ...(id !== undefined ? { rpId: id } : {}) };
}
