// Presence (PROTOCOL.md §3 status, §4.4 heartbeat) is a hint: anyone can publish a retained
// `online` or a heartbeat on a device's topics. The public view shows it under `presence` with
// "verified": false, and only verified tokens move `lastAttested`. And a handset connected since
// its enrolment is shown online: its retained `online` arrives before its hello, when the
// registry does not know it yet, so the verified attestation that enrols it counts as presence.
import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeHeartbeat } from "../protocol/messages.js";
import { startHarness, getJson, fullView, waitFor } from "./support/registry-sim.js";
import { connect } from "mqtt";

test("a handset connected since its enrolment is shown online (its retained online came before its hello)", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const hs = h.handset();
  const d = h.device(hs);
  await d.connect(); // retained "online", then hello
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  await h.registry.idle();
  const view = await fullView(h.url, h.authority, hs.ta.id.imei);
  assert.equal(view.body.devices[0].presence?.online, true, JSON.stringify(view.body.devices[0]));
  assert.equal(h.registry.store.devices.get(d.did)!.online, true);
  d.crash(); // the Last Will
  await waitFor(async () => (await fullView(h.url, h.authority, hs.ta.id.imei)).body.devices[0].presence?.online === false, "offline after the Last Will");
});

test("spoofed status and heartbeats of an offline handset show as unverified presence; lastAttested does not move", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const hs = h.handset();
  const d = h.device(hs, { attest: true });
  await d.connect();
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  await d.disconnect();
  await h.registry.idle();
  const view = () => fullView(h.url, h.authority, hs.ta.id.imei);
  const before = (await view()).body.devices[0];
  assert.equal(typeof before.lastAttested, "string");

  // The attacker: not the handset, publishing on its topics.
  const spoof = connect(h.broker.url, { clientId: "spoofer", reconnectPeriod: 0 });
  t.after(() => spoof.end(true));
  await new Promise<void>((r) => spoof.once("connect", () => r()));
  await new Promise((r) => setTimeout(r, 20));
  await spoof.publishAsync(d.topic("status"), "online", { qos: 1, retain: true });
  await spoof.publishAsync(d.topic("heartbeat"), Buffer.from(encodeHeartbeat({ bootcount: 1, lock: 0, seq: 0, tampered: false })), { qos: 1 });
  await waitFor(async () => (await view()).body.devices[0].presence?.online === true, "the spoofed status recorded");
  await h.registry.idle();
  const after = (await view()).body.devices[0];
  assert.equal(after.presence.verified, false, "unauthenticated presence is marked unverified");
  assert.equal(after.lastAttested, before.lastAttested, "a heartbeat moved the attested time");
  assert.equal("online" in after, false, "no bare online flag that reads as proof");
  assert.equal("lastSeen" in after, false, "no bare lastSeen that reads as proof");
});
