// Test support for the ledger suites: a federation of registries (operators in different
// countries) on one real broker, each with its own SQLite file, key and pinned peers; the first
// one also serves handsets, so an owner can claim one and report it stolen over the protocol.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { generateEd25519 } from "../../attestation/index.js";
import { MemoryLogger } from "../../agent/log.js";
import { Registry, type RegistryOptions } from "../../registry/registry.js";
import { signingKey, type SigningKey } from "../../registry/keys.js";
import type { LedgerOptions } from "../../registry/ledger/ledger.js";
import { buildRequest, type RequestInput } from "../../registry/request-codec.js";
import { claimWithCode } from "./claim.js";
import { OEM, SimDevice, getJson, postCose, refHandset, startBroker, tempDir, waitFor, type Broker } from "./registry-sim.js";

export interface Member {
  readonly name: string;
  readonly key: SigningKey;
  readonly authority: SigningKey;
  readonly dbPath: string;
  readonly log: MemoryLogger;
  /** The broker this member's handsets and federation link use. */
  readonly brokerUrl: string;
  registry: Registry;
  readonly url: string;
  /** Stops this registry (if running) and starts it again on the same database. */
  restart(over?: Partial<RegistryOptions>): Promise<Registry>;
}

export interface Federation {
  readonly broker: Broker;
  readonly members: Member[];
  readonly federationKey: Uint8Array;
  readonly dir: { path: string; cleanup(): void };
  member(name: string): Member;
  /** Waits until every running member is idle. */
  idle(): Promise<void>;
  /** Waits until every member holds every other member's latest head and all its entries. */
  converged(): Promise<void>;
  close(): Promise<void>;
}

export interface FederationOptions {
  readonly names?: readonly string[];
  /** Members (by name) that also serve handsets on the broker. Default: the first. */
  readonly deviceRegistries?: readonly string[];
  readonly over?: (name: string) => Partial<RegistryOptions>;
  /** Another broker per member (e.g. bridged Mosquittos); default: one shared aedes. */
  readonly brokers?: Readonly<Record<string, { url: string; protocolVersion?: 4 | 5 }>>;
  /** More peers every member pins (e.g. simulated ones), by member name. */
  readonly extraPeers?: (name: string) => readonly { publicKey: Uint8Array; name: string }[];
  /** More ledger options, by member name (e.g. a get limit). */
  readonly ledgerOver?: (name: string) => Partial<LedgerOptions>;
}

export async function startFederation(o: FederationOptions = {}): Promise<Federation> {
  const names = o.names ?? ["A", "B", "C"];
  const withDevices = new Set(o.deviceRegistries ?? [names[0]!]);
  const broker = await startBroker();
  const dir = tempDir("at-ledger-");
  const federationKey = new Uint8Array(randomBytes(32));
  const keys = names.map(() => signingKey(generateEd25519().privateKey));
  const running = new Set<Registry>();
  const members: Member[] = names.map((name, i) => {
    const key = keys[i]!;
    const authority = signingKey(generateEd25519().privateKey);
    const dbPath = join(dir.path, `${name}.sqlite`);
    const log = new MemoryLogger();
    const b = o.brokers?.[name] ?? { url: broker.url };
    const pv = b.protocolVersion ? { protocolVersion: b.protocolVersion } : {};
    const make = (over: Partial<RegistryOptions> = {}) =>
      new Registry({
        db: dbPath,
        registryKey: key,
        oemRoots: [OEM.publicKey],
        authorities: [authority.publicKey],
        http: { host: "127.0.0.1", port: 0 },
        log,
        ...(withDevices.has(name) ? { mqtt: { url: b.url, name, ...pv } } : {}),
        ledger: {
          federationKey,
          name,
          mqtt: { url: b.url, name, ...pv },
          peers: [...names.flatMap((n, j) => (j === i ? [] : [{ publicKey: keys[j]!.publicKey, name: n }])), ...(o.extraPeers?.(name) ?? [])],
          getDelayMs: 30,
          ...o.ledgerOver?.(name),
        },
        ...o.over?.(name),
        ...over,
      });
    const m: Member = {
      name, key, authority, dbPath, log, brokerUrl: b.url,
      registry: make(),
      get url() {
        return m.registry.httpUrl!;
      },
      async restart(over = {}) {
        if (running.has(m.registry)) {
          running.delete(m.registry);
          await m.registry.stop();
        }
        m.registry = make(over);
        await m.registry.start();
        running.add(m.registry);
        return m.registry;
      },
    };
    return m;
  });
  for (const m of members) {
    await m.registry.start();
    running.add(m.registry);
  }
  const f: Federation = {
    broker, members, federationKey, dir,
    member: (name) => members.find((m) => m.name === name)!,
    async idle() {
      for (let i = 0; i < 2; i++) for (const r of running) await r.idle();
    },
    async converged() {
      await waitFor(() => {
        for (const m of members) {
          const lm = m.registry.ledger!;
          for (const p of members) {
            if (p === m) continue;
            const size = p.registry.ledger!.local.size();
            const row = lm.db.logs.byLogId(p.key.kid)!;
            if (row.size !== size || lm.db.heads.latest(row.id)?.size !== size) return false;
          }
        }
        return true;
      }, "the federation to converge");
      await f.idle();
    },
    async close() {
      for (const r of running) await r.stop();
      running.clear();
      await broker.close();
      dir.cleanup();
    },
  };
  return f;
}

export async function send(m: Member, key: SigningKey, r: RequestInput): Promise<{ status: number; body: any }> {
  return postCose(`${m.url}/antitheft/v1/requests`, buildRequest(key.signer, r, m.key.kid));
}

export async function eir(m: Member, imei: string): Promise<{ status: number; body: any }> {
  return getJson(`${m.url}/n5g-eir-eic/v1/equipment-status?pei=imei-${imei}`);
}

/** A handset enrolled at `home` over MQTT, claimed by a fresh owner key. */
export async function ownedHandset(_f: Federation, home: Member): Promise<{ imei: string; owner: SigningKey; device: SimDevice }> {
  const hs = refHandset([home.key.publicKey]);
  const device = new SimDevice({ broker: home.brokerUrl, ta: hs.ta, endorsement: hs.endorsement });
  await device.connect();
  await waitFor(() => home.registry.store.devices.get(device.did), "enrolment");
  const owner = signingKey(generateEd25519().privateKey);
  const r = await claimWithCode((r) => send(home, owner, r), owner, hs.ta, hs.ta.id.imei);
  if (r.status !== 200) throw new Error(`claim refused: ${JSON.stringify(r.body)}`);
  return { imei: hs.ta.id.imei, owner, device };
}
