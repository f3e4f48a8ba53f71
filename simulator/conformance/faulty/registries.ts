// BROKEN registries, for negative controls only: the reference registry with one behaviour broken
// through its injection points (options, its MQTT client factory, its store, an HTTP front),
// the way real deployments get it wrong. The suite must FAIL against every one of them
// (test/conformance-negative.test.ts). Never use these for anything else.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import mqtt, { type MqttClient } from "mqtt";
import { parseRequest, buildRequest, type RequestType } from "../../../registry/request-codec.js";
import type { RegistryCustomizer } from "../../embedded.js";
import type { Registry, RegistryOptions } from "../../../registry/registry.js";
import { isPinnedOem } from "../../../registry/oem-ranges.js";
import type { Ledger } from "../../../registry/ledger/ledger.js";
import { Store } from "../../../registry/store.js";
import { decodeResult, parseDeviceTopic } from "../../../protocol/messages.js";
import { ROGUE_OEM } from "../keys.js";

/** Trusts the suite's well-known rogue OEM key (as if it pinned any OEM that asks). */
export const pinsRogueOem: RegistryCustomizer = {
  name: "a registry that pins an OEM root it must not trust",
  options: (o) => ({ ...o, oemRoots: [...(o.oemRoots as Uint8Array[]), ROGUE_OEM.publicKey] }),
};

/** Accepts any agent measurement. */
export const noMeasurementPolicy: RegistryCustomizer = {
  name: "a registry that does not check agent measurements",
  options: (o) => ({ ...o, acceptedMeasurements: [] }),
};

/** Keeps its state in memory: a restart forgets every flag and command. */
export const inMemory: RegistryCustomizer = {
  name: "a registry that keeps its state in memory",
  options: (o) => ({ ...o, db: ":memory:" }),
};

/** Lets the newest key to present an IMEI take it over: no clone flag, the old key forgotten. */
export const rebindsImeis: RegistryCustomizer = {
  name: "a registry where the newest key to present an IMEI takes it over",
  patch(r) {
    const { imeis, flags } = r.store;
    const all = imeis.didsFor.bind(imeis);
    imeis.didsFor = (imei) => all(imei).slice(-1);
    const raise = flags.raise.bind(flags);
    flags.raise = (did, imei, kind, by, reason, at) =>
      kind === "clone" ? { id: 0, did, imei, kind, raisedBy: by, reason, at, clearedAt: null, clearedBy: null } : raise(did, imei, kind, by, reason, at);
  },
};

/** Ignores a second, different endorsement for a device. */
export const ignoresEndorsementChanges: RegistryCustomizer = {
  name: "a registry that ignores a second endorsement",
  patch(r) {
    r.store.imeis.recordEndorsement = () => false;
  },
};

/** Accepts attestations for any nonce, any number of times. */
export const ignoresNonces: RegistryCustomizer = {
  name: "a registry that does not check nonces",
  patch(r) {
    r.ctx.challenges.outstanding = () => r.ctx.clock.now();
    r.ctx.challenges.take = () => "";
  },
};

function sha(b: Uint8Array | Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

/**
 * A registry whose MQTT client publishes every command once, with QoS 0 and never retained:
 * `dropEvery` also loses one command in N (a registry that sheds load without telling anyone).
 */
function lossyPublisher(name: string, dropEvery = 0): RegistryCustomizer {
  return {
    name,
    options: (o) => ({
      ...o,
      mqtt: {
        ...o.mqtt!,
        factory: (url, options) => {
          const client: MqttClient = mqtt.connect(url, options);
          const publish = client.publish.bind(client) as (...a: unknown[]) => MqttClient;
          const sent = new Set<string>();
          let n = 0;
          client.publish = ((topic: string, message: Buffer, opts: Record<string, unknown>, cb?: (e?: Error) => void) => {
            const kind = topic.split("/").at(-1);
            if (kind === "desired") return cb?.(), client;
            if (kind === "command") {
              const id = sha(message);
              if (sent.has(id)) return cb?.(), client; // never re-sent
              sent.add(id);
              if (dropEvery > 0 && ++n % dropEvery === 0) return cb?.(), client;
              return publish(topic, message, { ...opts, qos: dropEvery > 0 ? 1 : 0, retain: false }, cb);
            }
            return publish(topic, message, opts, cb);
          }) as MqttClient["publish"];
          return client;
        },
      },
    }),
  };
}

export const fireAndForget = lossyPublisher("a registry that sends each command once, QoS 0, not retained");
export const shedsLoad = lossyPublisher("a registry that drops one command in five and never re-sends", 5);

/**
 * Checks tokens on SUCCEEDED only: any REJECTED for an open command ends its job, signed or not,
 * so whoever can publish on a device's result topic cancels its lock (PROTOCOL §4.6 forbids it).
 * Its MQTT client hears each result before the registry does and writes the refusal straight
 * into the registry's database (a connection of its own, opened on the first result, closed with
 * the client); the registry's own handler then drops the unsigned result, as it always does.
 */
export const endsJobOnAnyRejected: RegistryCustomizer = {
  name: "a registry that ends a job on any REJECTED result, signed or not",
  options(o) {
    const path = o.db;
    if (typeof path !== "string" || path === ":memory:") throw new TypeError("this negative control needs a registry database file");
    const connect = o.mqtt!.factory ?? mqtt.connect;
    return {
      ...o,
      mqtt: {
        ...o.mqtt!,
        factory: (url, options) => {
          const client: MqttClient = connect(url, options);
          let store: Store | undefined;
          client.on("message", (topic, payload) => {
            const t = parseDeviceTopic(topic);
            if (t?.kind !== "result") return;
            try {
              const r = decodeResult(new Uint8Array(payload));
              if (r.status !== "REJECTED") return;
              store ??= Store.open(path);
              const cmd = store.commands.get(t.did, r.seq);
              if (!cmd || cmd.status === "SUCCEEDED" || cmd.status === "REJECTED") return;
              store.commands.setResult(t.did, r.seq, { status: "REJECTED", code: r.code, error: r.error ?? null, token: r.token ?? null, at: Date.now() });
            } catch {
              // not a result: the registry's own handler refuses it
            }
          });
          client.on("end", () => store?.close());
          return client;
        },
      },
    };
  },
};

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Sends `req` on to the registry at `path` (a POST with `body`) and relays its answer. */
async function relay(registryUrl: string, path: string, req: IncomingMessage, body: Uint8Array<ArrayBuffer>, res: ServerResponse): Promise<void> {
  const a = await fetch(registryUrl + path, {
    method: req.method ?? "GET",
    ...(req.method === "POST" ? { body, headers: { "content-type": String(req.headers["content-type"] ?? "") } } : {}),
  });
  res.writeHead(a.status, { "content-type": a.headers.get("content-type") ?? "application/json" });
  res.end(Buffer.from(await a.arrayBuffer()));
}

/** Serves `handle` on a free loopback port as the suite's front; a handler that fails answers 502. */
async function serveFront(handle: (req: IncomingMessage, body: Buffer, res: ServerResponse) => Promise<void>): Promise<{ readonly url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    void (async () => handle(req, await readBody(req), res))().catch(() => {
      res.writeHead(502);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => (server.close(() => r()), server.closeAllConnections())),
  };
}

/**
 * An HTTP gateway in front of the registry that checks no signature and forwards owner reports
 * as flags signed with its own authority key: anyone can now block (and unblock) any phone.
 */
export const trustingGateway: RegistryCustomizer = {
  name: "a gateway that re-signs every request with its own authority key",
  async front(registryUrl, site) {
    const as: Partial<Record<RequestType, RequestType>> = { "report-stolen": "flag", "report-lost": "flag", found: "clear", clear: "clear", flag: "flag" };
    return serveFront(async (req, body, res) => {
      let forward: Uint8Array = body;
      if (req.method === "POST") {
        try {
          const r = parseRequest(new Uint8Array(body));
          const type = as[r.type];
          if (type) {
            forward = buildRequest(site.authority.signer, {
              type,
              imei: r.imei,
              ...(r.message !== undefined ? { message: r.message } : {}),
              ...(r.contact !== undefined ? { contact: r.contact } : {}),
            }, site.registryKey.kid);
          }
        } catch {
          // not a request: forward as it is
        }
      }
      await relay(registryUrl, req.url ?? "/", req, new Uint8Array(forward), res);
    });
  },
};

/**
 * A web front that answers anyone's device view with the whole view, fetched with its own
 * authority key (PROTOCOL.md §6.2 "Device views" leaked): owner, presence, lock state, commands.
 */
export const leakyViewGateway: RegistryCustomizer = {
  name: "a gateway that shows anyone the whole device view, read with its authority key",
  async front(registryUrl, site) {
    return serveFront(async (req, body, res) => {
      const m = /^\/antitheft\/v1\/devices\/imei-(\d{15})$/.exec(req.url ?? "");
      if (req.method === "GET" && m) {
        const a = await fetch(`${registryUrl}/antitheft/v1/requests`, {
          method: "POST",
          body: Buffer.from(buildRequest(site.authority.signer, { type: "view", imei: m[1]! }, site.registryKey.kid)),
          headers: { "content-type": "application/cose" },
        });
        const j = (await a.json()) as { view?: Record<string, unknown> };
        res.writeHead(a.status, { "content-type": "application/json" });
        return void res.end(JSON.stringify({ ok: a.ok, ...(j.view ?? j) }));
      }
      await relay(registryUrl, req.url ?? "/", req, new Uint8Array(body), res);
    });
  },
};

// ---- the ledger (REQ-LG, docs/LEDGER.md): broken through the registry's ledger tables --------

function ledgerOf(r: Registry): Ledger {
  if (!r.ledger) throw new Error("this negative control needs a registry with a ledger");
  return r.ledger;
}

/** Publishes IMEIs in clear: the subject of its entries is the IMEI's digits, not a keyed pseudonym. */
export const publishesImeis: RegistryCustomizer = {
  name: "a registry that publishes IMEIs in clear instead of keyed pseudonyms",
  patch(r) {
    const fk = ledgerOf(r).federationKey;
    fk.pseudonym = (imei) => {
      const sub = new Uint8Array(32);
      sub.set(new TextEncoder().encode(imei));
      return sub;
    };
  },
};

/** Mirrors its peers' logs but never applies their flags to its equipment status. */
export const ignoresPeerFlags: RegistryCustomizer = {
  name: "a registry that mirrors its peers' logs but never applies their flags",
  patch(r) {
    ledgerOf(r).db.peerFlags.raise = () => undefined;
  },
};

/**
 * Matches a clear to the flag it names by position only, forgetting the log: any member's clear
 * naming entry N lifts the flag raised by entry N of every log.
 */
export const clearsByPosition: RegistryCustomizer = {
  name: "a registry that lets any member's clear lift a flag (matched by position, not by log)",
  patch(r) {
    const db = ledgerOf(r).db.db;
    const clear = db.prepare("UPDATE ledger_peer_flags SET cleared_seq = ? WHERE seq = ? AND cleared_seq IS NULL");
    ledgerOf(r).db.peerFlags.clear = (_log, ref, seq) => clear.run(seq, ref).changes;
  },
};

/** Records no alarm: two heads of one size with different roots go unnoticed. */
export const ignoresForks: RegistryCustomizer = {
  name: "a registry that ignores forked tree heads",
  patch(r) {
    ledgerOf(r).db.alarms.add = () => false;
  },
};

/** Records the fork alarm but keeps honouring the forked log's clears (does not fail closed). */
export const honoursForkedClears: RegistryCustomizer = {
  name: "a registry that keeps honouring a forked log's clears",
  patch(r) {
    const flags = ledgerOf(r).db.peerFlags;
    const active = flags.active.bind(flags);
    flags.active = (subject) => active(subject).filter((f) => !f.heldAfterClear);
  },
};

/**
 * Serves its log from a copy kept in memory since each entry was first read, not from its
 * storage: a row rewritten in its database is not what auditors see, so it goes undetected.
 */
export const servesLogFromMemory: RegistryCustomizer = {
  name: "a registry that serves its log from a copy in memory, not from its storage",
  patch(r) {
    const tree = ledgerOf(r).db.tree;
    const entries = tree.entries.bind(tree);
    const copy = new Map<string, Uint8Array>();
    tree.entries = (log, start, end) =>
      entries(log, start, end).map((e, i) => {
        const k = `${log}/${start + i}`;
        if (!copy.has(k)) copy.set(k, e);
        return copy.get(k)!;
      });
  },
};

/**
 * Answers any ledger get, signed or not, by re-publishing the entries asked (up to 512) to every
 * member: one anonymous packet makes it publish hundreds (the amplifier of docs/LEDGER.md §6.1).
 */
let anyGetLedger: Ledger | undefined;
export const answersAnyGet: RegistryCustomizer = {
  name: "a registry that answers unsigned ledger gets (an amplifier)",
  options: (o) => ({
    ...o,
    ledger: {
      ...o.ledger!,
      mqtt: {
        url: o.mqtt!.url,
        ...(o.mqtt!.name ? { name: o.mqtt!.name } : {}),
        ...(o.mqtt!.protocolVersion ? { protocolVersion: o.mqtt!.protocolVersion } : {}),
        factory: (url, options) => {
          const client: MqttClient = mqtt.connect(url, options);
          client.on("message", (topic, payload) => {
            const L = anyGetLedger;
            if (!L || !topic.endsWith(`${L.logHex}/get`) || payload.length === 0) return;
            const size = L.local.size();
            for (const e of L.db.tree.entries(L.local.row.id, 0, Math.min(size, 512))) client.publish(topic.replace(/get$/, "entry"), Buffer.from(e), { qos: 1 });
          });
          return client;
        },
      },
    },
  }),
  patch(r) {
    anyGetLedger = ledgerOf(r);
  },
};

/**
 * Serves level-0 tiles of plain SHA-256 entry hashes, without RFC 9162's 0x00 leaf prefix: its
 * tiles no longer match its own tree, so a tlog client's proofs built from them fail.
 */
export const tilesWithoutLeafPrefix: RegistryCustomizer = {
  name: "a registry whose tlog level-0 tiles hash entries without the RFC 9162 leaf prefix",
  patch(r) {
    const tree = ledgerOf(r).db.tree;
    const nodes = tree.nodes.bind(tree);
    tree.nodes = (log, level, start, end) => (level === 0 ? tree.entries(log, start, end).map((e) => new Uint8Array(createHash("sha256").update(e).digest())) : nodes(log, level, start, end));
  },
};

/** Its federation link hangs up on an empty ledger message and never reconnects. */
export const federationHangsUp: RegistryCustomizer = {
  name: "a registry whose federation link hangs up on a malformed ledger message",
  options: (o) => ({
    ...o,
    ledger: {
      ...o.ledger!,
      mqtt: {
        url: o.mqtt!.url,
        ...(o.mqtt!.name ? { name: o.mqtt!.name } : {}),
        ...(o.mqtt!.protocolVersion ? { protocolVersion: o.mqtt!.protocolVersion } : {}),
        factory: (url, options) => {
          const client: MqttClient = mqtt.connect(url, options);
          client.on("message", (_topic, payload) => {
            if (payload.length === 0) client.end(true);
          });
          return client;
        },
      },
    },
  }),
};

/** Lifting the last flag leaves the phone locked (WHITELISTED on the network, locked in hand). */
export const clearLeavesLocked: RegistryCustomizer = {
  name: "a registry whose clear leaves the phone locked",
  patch(r) {
    r.store.commands.latestStateChange = () => undefined;
  },
};

// ---- abuse resistance (PROTOCOL.md §6.1-6.4) ---------------------------------------------------

/**
 * An HTTP front that passes every request through unchanged, telling `seen` what it carries
 * first (a signed request's fields, or the IMEI a query names) and `done` when it was answered.
 * The suite sends one request at a time, so a broken registry can act on "the request now".
 */
function watchingFront(seen: (q: { request?: ReturnType<typeof parseRequest>; imei?: string }) => void, done: () => void): NonNullable<RegistryCustomizer["front"]> {
  return (registryUrl) =>
    serveFront(async (req, body, res) => {
      const url = req.url ?? "/";
      if (req.method === "POST") {
        try {
          seen({ request: parseRequest(new Uint8Array(body)) });
        } catch {
          seen({});
        }
      } else {
        seen({ imei: /(?:pei=imei-|\/devices\/imei-)([0-9]{15})/.exec(url)?.[1] });
      }
      try {
        await relay(registryUrl, url, req, new Uint8Array(body), res);
      } finally {
        done();
      }
    });
}

/**
 * Does not check a request's audience: whatever registry a signed request names in "aud", it
 * compares it with itself and finds a match, so a request signed for another registry is
 * accepted here too (within its ts window).
 */
let audienceAsked: Uint8Array | undefined;
export const ignoresAudience: RegistryCustomizer = {
  name: "a registry that ignores the audience of signed requests",
  patch(r) {
    const ctx = r.ctx as { registryKey: Registry["ctx"]["registryKey"] };
    const key = ctx.registryKey;
    ctx.registryKey = new Proxy(key, { get: (t, p) => (p === "kid" && audienceAsked ? audienceAsked : Reflect.get(t, p)) });
  },
  front: watchingFront(
    (q) => void (audienceAsked = q.request?.aud ?? undefined),
    () => void (audienceAsked = undefined),
  ),
};

/**
 * Looks up a peer registry's flags for the very IMEI a request or query names only, not for the
 * other IMEIs bound to the same device: a dual-IMEI handset flagged at a peer by IMEI 1 answers
 * WHITELISTED by IMEI 2, and found naming IMEI 2 ignores the flag (the per-IMEI lookup of
 * before PROTOCOL §6.3 "a flag covers the whole device").
 */
let imeiAsked: string | undefined;
export const perImeiPeerFlags: RegistryCustomizer = {
  name: "a registry that looks up peer flags per IMEI, not per device",
  patch(r) {
    const lookup = r.store.peerFlags;
    r.store.peerFlags = (imei) => (imeiAsked === undefined || imei === imeiAsked ? lookup(imei) : []);
  },
  front: watchingFront(
    (q) => void (imeiAsked = q.request?.imei ?? q.imei),
    () => void (imeiAsked = undefined),
  ),
};

/** No rate limits, and a new challenge for every hello (PROTOCOL §6.4 ignored). */
export const noLimits: RegistryCustomizer = {
  name: "a registry with no rate limits that mints a challenge for every hello",
  options: (o) => {
    const none = { burst: Infinity, perSecond: 0 };
    return { ...o, rateLimits: { device: none, owner: none, authority: none } };
  },
  patch(r) {
    const c = r.ctx.challenges;
    c.forHello = (did) => c.issue(did);
  },
};

/** Pins every OEM root for any TAC: the TAC ranges it was configured with are dropped. */
export const ignoresOemRanges: RegistryCustomizer = {
  name: "a registry that lets every pinned OEM endorse any TAC",
  options: (o) => ({ ...o, oemRoots: (o.oemRoots as readonly unknown[]).map((k) => (isPinnedOem(k) ? k.key : k)) as RegistryOptions["oemRoots"] }),
};
