// Flooding (PROTOCOL.md §6.4): a burst of hellos or heartbeats for one device id mints no new
// challenge while one sent to it is fresh and unanswered, and is rate-limited per device; a
// burst of requests from one signer is answered 429 E_RATE_LIMITED once its bucket is empty.
// Repeated identical attestations do not grow the append-only event log.
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateEd25519, toHex } from "../attestation/index.js";
import { decodeChallenge, encodeHeartbeat, encodeHello } from "../protocol/messages.js";
import { buildRequest, type RequestInput } from "../registry/request-codec.js";
import { claimProofFor, claimWithCode } from "./support/claim.js";
import { signingKey } from "../registry/keys.js";
import { startHarness, postCose, waitFor } from "./support/registry-sim.js";
import { connect } from "mqtt";
import { handleHeartbeat } from "../registry/presence.js";

test("100 replayed hellos for one device: at most two distinct nonces, fewer challenges than hellos, a bounded challenge table", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const hs = h.handset();
  const d = h.device(hs, { attest: false }); // a handset that stays silent: every challenge stays unanswered
  await d.connect();
  await waitFor(() => d.challenges.length >= 1, "the first challenge");
  const watcher = connect(h.broker.url, { clientId: "watcher", reconnectPeriod: 0 });
  t.after(() => watcher.end(true));
  await new Promise<void>((r) => watcher.once("connect", () => r()));
  const nonces: string[] = [];
  watcher.on("message", (_t, p) => nonces.push(toHex(decodeChallenge(new Uint8Array(p)).nonce)));
  await watcher.subscribeAsync(d.topic("challenge"), { qos: 1 });
  const hello = encodeHello({ endorsement: hs.endorsement, bootcount: 1, lock: 0, seq: 0, agent: "sim/1" });
  for (let i = 0; i < 100; i++) await watcher.publishAsync(d.topic("hello"), Buffer.from(hello), { qos: 1 });
  await h.registry.idle();
  await new Promise((r) => setTimeout(r, 100));
  await h.registry.idle();
  const distinct = new Set(nonces);
  assert.ok(distinct.size <= 2, `${distinct.size} distinct nonces for 100 hellos`);
  assert.ok(nonces.length < 100, `${nonces.length} challenges for 100 hellos`);
  assert.ok(h.registry.store.challenges.count() <= 2, `${h.registry.store.challenges.count()} challenges stored`);
  assert.ok(h.log.named("device.rate-limited").length >= 1, "the flood was logged");
});

/**
 * 100 heartbeats at once for one enrolled device that has gone silent, each lying about its lock
 * state (so each one asks for a challenge, PROTOCOL.md §4.4): what distinct nonces the device's
 * challenge topic carries, and how many rows the challenge table holds afterwards. (Before the
 * freshness check moved into the transaction, every heartbeat the device's bucket admitted
 * minted a challenge: 19 distinct nonces, its hello having taken one token of 20.)
 */
async function heartbeatFlood(t: import("node:test").TestContext, over: Parameters<typeof startHarness>[0] = {}, patch?: (h: Awaited<ReturnType<typeof startHarness>>) => void) {
  const h = await startHarness(over);
  t.after(() => h.close());
  const hs = h.handset();
  const d = h.device(hs);
  await d.connect();
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  await waitFor(() => h.registry.store.challenges.count() === 0, "the enrolment's challenge used");
  d.crash(); // the device goes silent: a challenge sent now stays unanswered
  await h.registry.idle();
  assert.equal(h.registry.store.challenges.count(), 0, "a challenge is outstanding before the flood");
  patch?.(h);
  const watcher = connect(h.broker.url, { clientId: "hb-watcher", reconnectPeriod: 0 });
  t.after(() => watcher.end(true));
  await new Promise<void>((r) => watcher.once("connect", () => r()));
  const nonces: string[] = [];
  watcher.on("message", (_t, p) => nonces.push(toHex(decodeChallenge(new Uint8Array(p)).nonce)));
  await watcher.subscribeAsync(d.topic("challenge"), { qos: 1 });
  // Handed to the registry's handler together, as when one read of its MQTT socket holds them
  // all: each runs up to its first await before any transaction commits.
  const lying = encodeHeartbeat({ bootcount: 1, lock: 2, seq: 0, tampered: false });
  await Promise.all(Array.from({ length: 100 }, () => handleHeartbeat(h.registry.ctx, d.did, lying)));
  await h.registry.idle();
  await new Promise((r) => setTimeout(r, 100));
  await h.registry.idle();
  return { distinct: new Set(nonces).size, sent: nonces.length, stored: h.registry.store.challenges.count(), limited: h.log.named("device.rate-limited").length };
}

test("100 heartbeats asking for a challenge at once: one challenge minted while it is fresh, the rest rate-limited", async (t) => {
  const r = await heartbeatFlood(t);
  assert.equal(r.distinct, 1, `${r.distinct} distinct nonces for 100 heartbeats`);
  assert.equal(r.stored, 1, `${r.stored} challenges stored`);
  assert.ok(r.limited >= 1, "the flood was logged");
});

test("negative control: with no device limit and no freshness check the same flood mints a challenge per heartbeat", async (t) => {
  // Shows the assertions above can fail: the registry without PROTOCOL.md §6.4's two rules.
  const none = { burst: Infinity, perSecond: 0 };
  const r = await heartbeatFlood(t, { rateLimits: { device: none } }, (h) => void (h.registry.ctx.challenges.hasFresh = () => false));
  assert.ok(r.distinct > 50, `only ${r.distinct} distinct nonces`);
  assert.ok(r.stored > 1);
});

test("a signer over its request budget gets 429 E_RATE_LIMITED and changes nothing; another signer is unaffected", async (t) => {
  const h = await startHarness({ rateLimits: { owner: { burst: 4, perSecond: 0.001 } } });
  t.after(() => h.close());
  const hs = h.handset();
  const d = h.device(hs);
  await d.connect();
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  const owner = signingKey(generateEd25519().privateKey);
  const post = (r: RequestInput) => postCose(`${h.url}/antitheft/v1/requests`, buildRequest(owner.signer, r, h.registryKey.kid));
  assert.equal((await claimWithCode(post, owner, hs.ta, hs.ta.id.imei)).status, 200); // claim-code and claim: two requests
  assert.equal((await post({ type: "report-lost", imei: hs.ta.id.imei })).status, 200);
  assert.equal((await post({ type: "found", imei: hs.ta.id.imei })).status, 200);
  const over = await post({ type: "report-stolen", imei: hs.ta.id.imei });
  assert.equal(over.status, 429, JSON.stringify(over.body));
  assert.equal(over.body.code, "E_RATE_LIMITED");
  assert.equal(h.registry.store.flags.active(d.did).length, 0, "the refused report raised a flag");
  // The authority's budget is its own.
  const flag = await postCose(`${h.url}/antitheft/v1/requests`, buildRequest(h.authority.signer, { type: "flag", imei: hs.ta.id.imei }, h.registryKey.kid));
  assert.equal(flag.status, 200, JSON.stringify(flag.body));
});

test("repeated identical attestations do not grow the event log", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const hs = h.handset();
  const d = h.device(hs);
  await d.connect();
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  await h.registry.idle();
  const events = () => h.registry.store.db.prepare("SELECT count(*) FROM events").pluck().get() as number;
  const before = events();
  for (let i = 0; i < 5; i++) {
    const sent = d.attestationsSent.length;
    await d.hello();
    await waitFor(() => d.attestationsSent.length > sent, `attestation ${i + 1}`);
    await waitFor(() => h.registry.store.challenges.count() === 0, `attestation ${i + 1} recorded`);
  }
  await h.registry.idle();
  assert.equal(events(), before, "identical attestations appended events");
});
