// Ownership after abuse (PROTOCOL.md §6.2): found needs a flag, clearing the last flag unlocks
// (the lock follows the network status), a phone flagged while unclaimed cannot be claimed by its
// holder after the clear, and a pinned authority can reset (or release) the ownership, logged as
// an event and as a signed ledger entry.
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateEd25519, toHex } from "../attestation/index.js";
import { buildRequest, type RequestInput } from "../registry/request-codec.js";
import { signingKey, type SigningKey } from "../registry/keys.js";
import { peekEntry } from "../registry/ledger/entry.js";
import { claimWithCode } from "./support/claim.js";
import { getJson, postCose, startHarness, waitFor, type Harness } from "./support/registry-sim.js";

const newKey = (): SigningKey => signingKey(generateEd25519().privateKey);
const send = (h: Harness, key: SigningKey, r: RequestInput) => postCose(`${h.url}/antitheft/v1/requests`, buildRequest(key.signer, r, h.registryKey.kid));
const status = async (h: Harness, imei: string) => (await getJson(`${h.url}/n5g-eir-eic/v1/equipment-status?pei=imei-${imei}`)).body.status;

async function enrolled(h: Harness) {
  const hs = h.handset();
  const d = h.device(hs);
  await d.connect();
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  return { d, ta: hs.ta, imei: hs.ta.id.imei };
}

test("found on a phone that is not flagged is refused and issues no unlock", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const { d, ta, imei } = await enrolled(h);
  const owner = newKey();
  assert.equal((await claimWithCode((r) => send(h, owner, r), owner, ta, imei)).status, 200);
  const f = await send(h, owner, { type: "found", imei });
  assert.equal(f.status, 409, JSON.stringify(f.body));
  assert.equal(f.body.code, "E_NOT_FLAGGED");
  assert.equal(h.registry.store.commands.latest(d.did), undefined, "no command was issued");
});

test("an authority's clear of the last flag unlocks a claimed phone; a phone flagged while unclaimed needs a reset-owner before anyone claims it", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  // Claimed, flagged by an authority, cleared: the phone is unlocked again.
  const a = await enrolled(h);
  const owner = newKey();
  assert.equal((await claimWithCode((r) => send(h, owner, r), owner, a.ta, a.imei)).status, 200);
  assert.equal((await send(h, h.authority, { type: "flag", imei: a.imei, reason: "inquiry" })).status, 200);
  await waitFor(() => a.ta.lockState === 2, "lock");
  const c = await send(h, h.authority, { type: "clear", imei: a.imei });
  assert.equal(c.status, 200, JSON.stringify(c.body));
  assert.equal(c.body.status, "WHITELISTED");
  assert.deepEqual(c.body.commands, [{ seq: 2, action: "unlock" }]);
  await waitFor(() => a.ta.lockState === 0, "the phone unlocked: its lock follows the network status");

  // Unclaimed, flagged (a stolen shipment), cleared: whoever holds it cannot claim it.
  const b = await enrolled(h);
  assert.equal((await send(h, h.authority, { type: "flag", imei: b.imei, reason: "shipment" })).status, 200);
  assert.equal((await send(h, h.authority, { type: "clear", imei: b.imei })).status, 200);
  assert.equal(await status(h, b.imei), "WHITELISTED");
  const holder = newKey();
  const refused = await claimWithCode((r) => send(h, holder, r), holder, b.ta, b.imei);
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  assert.equal(refused.body.code, "E_RELEASE_REQUIRED");
  assert.equal(h.registry.store.owners.current(h.registry.store.imeis.didsFor(b.imei)[0]!), undefined);
  // A documented release (reset-owner naming nobody) makes it claimable again.
  const rel = await send(h, h.authority, { type: "reset-owner", imei: b.imei, reason: "released after inquiry" });
  assert.equal(rel.status, 200, JSON.stringify(rel.body));
  assert.equal(rel.body.owner, null);
  assert.equal((await claimWithCode((r) => send(h, holder, r), holder, b.ta, b.imei)).status, 200);
});

test("reset-owner: a pinned authority gives a wrongly claimed phone to its owner, logged as an event and a signed ledger entry", async (t) => {
  const h = await startHarness({ ledger: { federationKey: new Uint8Array(32).fill(7), name: "test" } });
  t.after(() => h.close());
  const { d, ta, imei } = await enrolled(h);
  const thief = newKey();
  const owner = newKey();
  assert.equal((await claimWithCode((r) => send(h, thief, r), thief, ta, imei)).status, 200);
  // Only a pinned authority may reset.
  for (const who of [thief, owner]) {
    const r = await send(h, who, { type: "reset-owner", imei, key: owner.coseKey });
    assert.equal(r.body.code, "E_NOT_AUTHORITY");
  }
  const r = await send(h, h.authority, { type: "reset-owner", imei, key: owner.coseKey, reason: "case 2026/42: proof of purchase" });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.owner, toHex(owner.kid));
  const current = h.registry.store.owners.current(d.did)!;
  assert.deepEqual([...current.kid], [...owner.kid]);
  assert.equal(current.via, "reset");
  assert.equal((await send(h, thief, { type: "report-stolen", imei })).body.code, "E_NOT_OWNER");
  assert.equal((await send(h, owner, { type: "report-stolen", imei })).status, 200);
  const ev = h.registry.store.events.list().find((e) => e.type === "owner-reset");
  assert.ok(ev, "an owner-reset event");
  assert.equal(ev.did, d.did);
  assert.equal((ev.detail as { from: string }).from, toHex(thief.kid));
  assert.equal((ev.detail as { to: string }).to, toHex(owner.kid));
  const entries = await waitFor(async () => {
    const e = (await getJson(`${h.url}/antitheft/v1/ledger/entries?start=0&end=10`)).body;
    return e.ok && e.entries.length >= 2 ? (e.entries as string[]) : undefined;
  }, "ledger entries");
  const evs = entries.map((b) => {
    const e = peekEntry(new Uint8Array(Buffer.from(b, "base64")));
    assert.ok(e.ok);
    return [e.value.ev, e.value.by, e.value.ref];
  });
  assert.deepEqual(evs, [["owner-reset", "authority", undefined], ["stolen", "owner", undefined]]);
});
