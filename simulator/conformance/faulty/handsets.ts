// BROKEN handsets, for negative controls only: each is the real virtual handset with one
// behaviour broken through a test seam (simulator/handset.ts HandsetHooks), the way real agents
// and platforms get it wrong. The conformance suite must FAIL against every one of them
// (test/conformance-negative.test.ts). Never use these for anything else.
import { fromHex, toHex, ueidFromImei, verifySign1 } from "../../../attestation/index.js";
import { equalBytes } from "../../../attestation/bytes.js";
import { DeviceTA, sealedBlobVersion, TA_STATE } from "../../../agent/device-ta.js";
import type { Enforcer } from "../../../agent/enforcement.js";
import type { Link, Transport } from "../../../agent/mqtt-link.js";
import mqtt from "mqtt";
import { decodeAttestation, decodeChallenge, decodeResult, deviceTopic, encodeAttestation, encodeResult, parseDeviceTopic, peekCommand } from "../../../protocol/messages.js";
import { decodeSign1 } from "../../../attestation/cose/sign1.js";
import { decodeTokenClaims } from "../../../attestation/eat/claims.js";
import type { DeviceStorage, MemoryStorage } from "../../../agent/storage.js";
import { TrustedApp } from "../../../agent/trusted-app.js";
import { VirtualHandsetDriver, type HandsetHooks, type VirtualHandset } from "../../handset.js";
import type { ProvisionSpec, Target } from "../target.js";

/** A driver whose handsets get `hooks`; it remembers each handset's provisioning spec. */
export class FaultyDriver extends VirtualHandsetDriver {
  readonly specs = new WeakMap<VirtualHandset, ProvisionSpec>();

  constructor(base: VirtualHandsetDriver, name: string, hooks: (d: FaultyDriver) => HandsetHooks) {
    super({ ...base.options, hooks: {} }, `BROKEN: ${name}`);
    Object.assign(this.options.hooks!, hooks(this));
  }

  override async provision(spec: ProvisionSpec): Promise<VirtualHandset> {
    const h = await super.provision(spec);
    this.specs.set(h, spec);
    return h;
  }
}

/** A broken driver made from the target's own (the target too, for variants that need its broker). */
type Variant = (base: VirtualHandsetDriver, target: Pick<Target, "brokerUrl" | "mqttVersion">) => FaultyDriver;

const enforcer = (p: Enforcer, o: Partial<Enforcer>): Enforcer => ({
  lock: o.lock ?? ((m, c) => p.lock(m, c)),
  unlock: o.unlock ?? (() => p.unlock()),
  showMessage: o.showMessage ?? ((m, c) => p.showMessage(m, c)),
});

/** A platform that ignores the agent's lock (and still lets it report success). */
export const ignoresLock: Variant = (b) =>
  new FaultyDriver(b, "a platform that ignores lock requests", () => ({ wrapEnforcer: (p) => enforcer(p, { lock: async () => {} }) }));

/** A platform that ignores unlock requests. */
export const ignoresUnlock: Variant = (b) =>
  new FaultyDriver(b, "a platform that ignores unlock requests", () => ({ wrapEnforcer: (p) => enforcer(p, { unlock: async () => {} }) }));

/** An agent that enforces only what it hears while connected: nothing at boot. */
export const lateEnforcement: Variant = (b) =>
  new FaultyDriver(b, "an agent that does not enforce before connecting", () => ({
    wrapEnforcer: (p, h) => enforcer(p, { lock: async (m, c) => (h.online ? p.lock(m, c) : undefined), unlock: async () => (h.online ? p.unlock() : undefined) }),
  }));

/** A factory reset that wipes the Trusted App's state too and provisions it again from the same fuse. */
export const resetWipesTa: Variant = (b) =>
  new FaultyDriver(b, "a factory reset that wipes the Trusted App's state", (d) => ({
    async factoryReset(h) {
      await h.folder.wipeUserData();
      const huk = (await h.flash.read("huk.bin"))!;
      const info = await h.folder.readInfo();
      await h.flash.removeTree("sealed.bin");
      await h.flash.removeTree("counter");
      const ta = new DeviceTA(TrustedApp.fromModule(d.options.module));
      if (ta.boot(huk, new Uint8Array(0), 0, 1).taState !== TA_STATE.UNPROVISIONED) throw new Error("expected a factory-fresh TA");
      const blob = ta.provision({ imei: info.imei, oemid: fromHex(info.oemId), hwmodel: info.model, registryKeys: d.specs.get(h)!.registryKeys });
      await h.folder.commit(blob, sealedBlobVersion(blob));
    },
  }));

/** A host that keeps its "replay-protected" counter in ordinary flash, next to the blob. */
export const counterInFlash: Variant = (b) =>
  new FaultyDriver(b, "a counter kept in ordinary flash (it rolls back with the blob)", () => ({
    wrapStorage: (flash: MemoryStorage): DeviceStorage => ({
      read: async (name) => {
        if (name !== "counter") return flash.read(name);
        const blob = await flash.read("sealed.bin");
        return blob && blob.length >= 12 ? new TextEncoder().encode(String(sealedBlobVersion(blob))) : undefined;
      },
      write: (name, data) => (name === "counter" ? Promise.resolve() : flash.write(name, data)),
      create: (name, data) => flash.create(name, data),
      removeTree: (name) => flash.removeTree(name),
      list: (dir) => flash.list(dir),
    }),
  }));

/**
 * An agent that acts on commands itself, before the Trusted App, with some of the TA's checks:
 * the platform obeys a command that passes the checks left on.
 */
function precheckingAgent(name: string, checks: { signature: boolean; target: boolean; sequence: boolean }): Variant {
  return (b) =>
    new FaultyDriver(b, name, (d) => ({
      wrapTransport: (t, h) => {
        let last = 0;
        return (options, handlers) =>
          t(options, {
            ...handlers,
            message: async (topic, payload) => {
              const kind = parseDeviceTopic(topic)?.kind;
              if (kind === "command" || kind === "desired") {
                try {
                  const c = peekCommand(payload);
                  const keys = d.specs.get(h)!.registryKeys;
                  const signed = !checks.signature || keys.some((k) => verifySign1(payload, k).ok);
                  const mine = !checks.target || (equalBytes(c.ueid, ueidFromImei(h.imei)) && toHex(c.kid) === h.did);
                  const fresh = !checks.sequence || c.seq > last;
                  if (signed && mine && fresh) {
                    last = Math.max(last, c.seq);
                    if (c.action === 1) await h.platform?.lock(c.message ?? "", c.contact ?? "");
                    if (c.action === 2) await h.platform?.unlock();
                  }
                } catch {
                  // not a command: the agent's business
                }
              }
              return handlers.message(topic, payload);
            },
          });
      },
    }));
}

export const trustsUnsignedCommands = precheckingAgent("an agent that acts on commands without verifying the signature", { signature: false, target: true, sequence: true });
export const ignoresSequence = precheckingAgent("an agent that ignores sequence numbers", { signature: true, target: true, sequence: false });
export const ignoresTarget = precheckingAgent("an agent that ignores the command's target", { signature: true, target: false, sequence: true });

/** An agent that never reconnects once its first connection is lost. */
export const neverReconnects: Variant = (b) =>
  new FaultyDriver(b, "an agent that gives up after a lost connection", () => ({
    wrapTransport: (t) => {
      let lost = false;
      return async (options, handlers) => {
        if (lost) throw new Error("the agent gave up");
        return t(options, { ...handlers, closed: (e) => ((lost = true), handlers.closed(e)) });
      };
    },
  }));

/** An agent that crashes (and stays down) on a payload it cannot parse. */
export const crashesOnGarbage: Variant = (b) =>
  new FaultyDriver(b, "an agent that crashes on a malformed payload", () => ({
    wrapTransport: (t) => {
      let crashed = false;
      let link: Link | undefined;
      const wrapped: Transport = async (options, handlers) => {
        if (crashed) throw new Error("the agent crashed");
        link = await t(options, {
          ...handlers,
          message: (topic, payload) => {
            const kind = parseDeviceTopic(topic)?.kind;
            try {
              if (kind === "challenge") decodeChallenge(payload);
              if ((kind === "command" || kind === "desired") && payload.length > 0) peekCommand(payload);
            } catch {
              crashed = true;
              void link?.end(false);
              return;
            }
            return handlers.message(topic, payload);
          },
        });
        return link;
      };
      return wrapped;
    },
  }));

/**
 * An agent that, besides its generic answer, also sends a registration-purpose token (EAT
 * intuse 2) for every challenge it receives: a host that lets the network obtain claim proofs.
 */
export const registersOnChallenge: Variant = (b) => {
  const extra = new WeakMap<VirtualHandset, Map<string, Uint8Array>>(); // by nonce (hex)
  return new FaultyDriver(b, "an agent that answers challenges with registration tokens too", () => ({
    createTa(module, h) {
      const ta = TrustedApp.fromModule(module);
      return {
        call(name, args, input) {
          if (name === "attest" && args.length === 3) {
            const reg = ta.call(name, [args[0]!, args[1]!, 2], input);
            if (reg.status >= 0 && input) (extra.get(h) ?? extra.set(h, new Map()).get(h)!).set(toHex(input.subarray(0, args[0]!)), reg.output);
          }
          return ta.call(name, args, input);
        },
      };
    },
    wrapTransport: (t, h) => async (options, handlers) => {
      const link = await t(options, handlers);
      return {
        get sessionPresent() {
          return link.sessionPresent;
        },
        async publish(topic, payload, o) {
          // The registration token goes first, so it is on the wire before the generic answer.
          const reg = parseDeviceTopic(topic)?.kind === "attestation" ? extra.get(h)?.get(toHex(decodeAttestationNonce(payload))) : undefined;
          if (reg) await link.publish(topic, encodeAttestation({ token: reg }), o);
          await link.publish(topic, payload, o);
        },
        subscribe: (topics) => link.subscribe(topics),
        end: (g) => link.end(g),
      };
    },
  }));
};

function decodeAttestationNonce(payload: Uint8Array): Uint8Array {
  return decodeTokenClaims(decodeSign1(decodeAttestation(payload).token).payload).nonce;
}

/** The link with its publishes passed through `rewrite` (which may change or keep the payload). */
function rewritingPublish(link: Link, rewrite: (topic: string, payload: Uint8Array) => Uint8Array): Link {
  return {
    get sessionPresent() {
      return link.sessionPresent;
    },
    publish: (topic, payload, o) => link.publish(topic, rewrite(topic, payload), o),
    subscribe: (topics) => link.subscribe(topics),
    end: (g) => link.end(g),
  };
}

/** An agent that refuses commands with a REJECTED result but no token (an unsigned refusal). */
export const rejectsWithoutToken: Variant = (b) =>
  new FaultyDriver(b, "an agent whose REJECTED results carry no token", () => ({
    wrapTransport: (t) => async (options, handlers) =>
      rewritingPublish(await t(options, handlers), (topic, payload) => {
        if (parseDeviceTopic(topic)?.kind !== "result") return payload;
        const r = decodeResult(payload);
        if (r.status !== "REJECTED") return payload;
        const { token: _dropped, ...unsigned } = r;
        return encodeResult(unsigned);
      }),
  }));

/**
 * An agent that takes the retained desired state for a command: every copy it receives, the one
 * that follows each command and the one the broker hands it at every (re)subscription, gets a
 * receipt and a result, although the state it asks for already holds.
 */
export const answersHeldDesired: Variant = (b) =>
  new FaultyDriver(b, "an agent that answers a retained desired state that already holds", () => ({
    wrapTransport: (t) => (options, handlers) =>
      t(options, {
        ...handlers,
        message: (topic, payload) => {
          const d = parseDeviceTopic(topic);
          return handlers.message(d?.kind === "desired" ? deviceTopic(d.did, "command") : topic, payload);
        },
      }),
  }));

/**
 * An agent with a non-persistent MQTT session: each connection starts clean (3.1.1
 * cleanSession = 1; 5 cleanStart = 1, session expiry 0), so whatever the broker queued for it while
 * it was offline is discarded. The agent's own connection is the real one; before each, a CONNECT
 * with the clean flag under the same client id makes the broker drop the session, as the agent's
 * own clean CONNECT would.
 */
export const cleanSession: Variant = (b, target) =>
  new FaultyDriver(b, "an agent that connects with a clean (non-persistent) session", () => ({
    wrapTransport: (t) => async (options, handlers) => {
      const c = await mqtt.connectAsync(target.brokerUrl, {
        clientId: options.clientId,
        protocolVersion: options.protocolVersion,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: options.connectTimeoutMs ?? 10_000,
        ...(options.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}),
      });
      await c.endAsync();
      return t(options, handlers);
    },
  }));

/** A platform whose lock screen keeps showing the lock message and contact after an unlock. */
export const unlockKeepsText: Variant = (b) =>
  new FaultyDriver(b, "a lock screen that shows text while unlocked", () => ({
    wrapEnforcer: (p, h) =>
      enforcer(p, {
        unlock: async () => {
          const shown = h.platform?.screen ?? "";
          await p.unlock();
          if (h.platform) h.platform.screen = shown;
        },
      }),
  }));
