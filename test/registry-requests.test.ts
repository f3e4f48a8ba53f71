// Owner and authority requests (PROTOCOL.md §6.2) over real HTTP, with handsets on a real
// broker: claim, report, found, transfer, authority flag/clear, and every refusal leaving the
// database byte-for-byte unchanged and a log line behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateEd25519 } from "../attestation/index.js";
import { buildRequest, type RequestInput } from "../registry/request-codec.js";
import { claimProofFor, claimWithCode } from "./support/claim.js";
import { signingKey, type SigningKey } from "../registry/keys.js";
import { claimNonce as claimNonceOf } from "../protocol/claim-code.js";
import type { Store } from "../registry/store.js";
import { openCommand } from "../registry/commands.js";
import { startHarness, freshImei, getJson, fullView, postCose, waitFor, type Harness, type SimDevice, type RefTa } from "./support/registry-sim.js";

const newKey = (): SigningKey => signingKey(generateEd25519().privateKey);

const TABLES = ["devices", "endorsements", "imei_bindings", "owners", "flags", "commands", "request_ids", "events", "claim_codes", "owner_resets"];

/** Every row of every table, by table. */
function snapshot(store: Store): Record<string, string> {
  return Object.fromEntries(
    TABLES.map((t) => [t, JSON.stringify(store.db.prepare(`SELECT * FROM ${t}`).all(), (_k, v) => (v && typeof v === "object" && v.type === "Buffer" ? Buffer.from(v.data).toString("hex") : v))]),
  );
}

function changedTables(a: Record<string, string>, b: Record<string, string>): string[] {
  return TABLES.filter((t) => a[t] !== b[t]);
}

async function send(h: Harness, key: SigningKey, r: RequestInput) {
  return postCose(`${h.url}/antitheft/v1/requests`, buildRequest(key.signer, r, h.registryKey.kid));
}

async function status(h: Harness, imei: string): Promise<string> {
  return (await getJson(`${h.url}/n5g-eir-eic/v1/equipment-status?pei=imei-${imei}`)).body.status;
}

/** Waits until the device has no open command (its result arrived), so nothing is in flight. */
async function settled(h: Harness, did: string): Promise<void> {
  await waitFor(() => !openCommand(h.registry.store, did), "the command's result");
  await h.registry.idle();
}

/** An enrolled handset with a claimed owner. */
async function owned(h: Harness, opts: { respond?: boolean } = {}): Promise<{ d: SimDevice; ta: RefTa; imei: string; owner: SigningKey }> {
  const hs = h.handset();
  const d = h.device(hs, { respond: opts.respond ?? true });
  await d.connect();
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  const owner = newKey();
  const r = await claimWithCode((q) => send(h, owner, q), owner, hs.ta, hs.ta.id.imei);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { d, ta: hs.ta, imei: hs.ta.id.imei, owner };
}

/** Sends a request that must be refused with `code`, and checks nothing changed and it was logged. */
async function refused(h: Harness, key: SigningKey | Uint8Array, r: RequestInput | undefined, code: string, httpStatus: number): Promise<void> {
  await h.registry.idle();
  const before = snapshot(h.registry.store);
  const logged = h.log.named("request.refused").length;
  const body = key instanceof Uint8Array ? key : buildRequest(key.signer, r!, h.registryKey.kid);
  const res = await postCose(`${h.url}/antitheft/v1/requests`, body);
  assert.equal(res.status, httpStatus, JSON.stringify(res.body));
  assert.equal(res.body.ok, false);
  assert.equal(res.body.code, code);
  await h.registry.idle();
  assert.deepEqual(changedTables(before, snapshot(h.registry.store)), [], `${code}: the database changed`);
  const logs = h.log.named("request.refused");
  assert.equal(logs.length, logged + 1);
  assert.equal(logs.at(-1)!.code, code);
}

test("claim binds the owner; a second claim and a claim with a wrong proof are refused", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const { d, ta, imei, owner } = await owned(h);
  assert.deepEqual([...h.registry.store.owners.current(d.did)!.kid], [...owner.kid]);
  const view = await fullView(h.url, h.authority, imei);
  assert.equal(view.body.devices[0].claimed, true);
  assert.ok(!JSON.stringify(view.body).includes(Buffer.from(owner.kid).toString("hex")), "the owner's kid is not disclosed");
  const thief = newKey();
  await refused(h, thief, { type: "claim-code", imei, key: thief.coseKey }, "E_ALREADY_CLAIMED", 409);

  const other = h.handset();
  const o = h.device(other);
  await o.connect();
  await waitFor(() => h.registry.store.devices.get(o.did), "enrolment");
  const code = (await send(h, thief, { type: "claim-code", imei: other.ta.id.imei, key: thief.coseKey })).body.code as string;
  const otherCode = (await send(h, owner, { type: "claim-code", imei: other.ta.id.imei, key: owner.coseKey })).body.code as string;
  // A proof made for another code, one made by another device, and one made for another use.
  await refused(h, thief, { type: "claim", imei: other.ta.id.imei, key: thief.coseKey, code, proof: claimProofFor(other.ta, otherCode) }, "E_BAD_PROOF", 403);
  await refused(h, thief, { type: "claim", imei: other.ta.id.imei, key: thief.coseKey, code, proof: claimProofFor(ta, code) }, "E_BAD_PROOF", 403);
  await refused(h, thief, { type: "claim", imei: other.ta.id.imei, key: thief.coseKey, code, proof: other.ta.attest(claimNonceOf(code)) }, "E_BAD_PROOF", 403);
  // A code issued to another owner key, or for another IMEI, is unknown to this claimant.
  await refused(h, thief, { type: "claim", imei: other.ta.id.imei, key: thief.coseKey, code: otherCode, proof: claimProofFor(other.ta, otherCode) }, "E_CLAIM_CODE_UNKNOWN", 403);
  await refused(h, thief, { type: "claim", imei: "356938035643809", key: thief.coseKey, code, proof: claimProofFor(ta, code) }, "E_CLAIM_CODE_UNKNOWN", 403);
  await refused(h, thief, { type: "claim-code", imei: "356938035643809", key: thief.coseKey }, "E_UNKNOWN_DEVICE", 404);
});

test("report-stolen blacklists, signs a lock with message and contact, and the job completes", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const { d, ta, imei, owner } = await owned(h);
  const r = await send(h, owner, { type: "report-stolen", imei, message: "Stolen phone - reward", contact: "+44 20 7946 0000" });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.status, "BLACKLISTED");
  assert.deepEqual(r.body.commands, [{ seq: 1, action: "lock" }]);
  assert.equal(await status(h, imei), "BLACKLISTED");
  await waitFor(() => h.registry.store.commands.get(d.did, 1)?.status === "SUCCEEDED", "lock result");
  assert.equal(ta.lockState, 2);
  const cmd = h.registry.store.commands.get(d.did, 1)!;
  assert.equal(cmd.message, "Stolen phone - reward");
  assert.equal(cmd.contact, "+44 20 7946 0000");
  assert.equal(cmd.resultCode, 2);
  assert.ok(cmd.receiptAt !== null, "the receipt was recorded");
  assert.equal(h.registry.store.devices.get(d.did)!.lockState, 2, "the result token updated the attested state");
  const view = await fullView(h.url, h.authority, imei);
  assert.equal(view.body.devices[0].pendingCommand, null);
  assert.equal(view.body.devices[0].flags[0].kind, "stolen");

  const f = await send(h, owner, { type: "found", imei });
  assert.equal(f.status, 200, JSON.stringify(f.body));
  assert.equal(f.body.status, "WHITELISTED");
  await waitFor(() => h.registry.store.commands.get(d.did, 2)?.status === "SUCCEEDED", "unlock result");
  assert.equal(ta.lockState, 0);
  assert.equal(await status(h, imei), "WHITELISTED");
});

test("unsigned, forged and non-owner requests are refused, logged, and change nothing", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const { d, imei, owner } = await owned(h);
  const stranger = newKey();
  await refused(h, new TextEncoder().encode("report-stolen please"), undefined, "E_BAD_REQUEST", 400);
  await refused(h, new Uint8Array(0), undefined, "E_BAD_REQUEST", 400);
  // A well-formed request whose signature is not the owner's (signed by a stranger, owner's kid).
  const forged = buildRequest({ publicKey: owner.publicKey, sign: (m) => stranger.signer.sign(m) }, { type: "report-stolen", imei }, h.registryKey.kid);
  await refused(h, forged, undefined, "E_BAD_SIGNATURE", 403);
  // A zeroed signature.
  const zeroed = buildRequest({ publicKey: owner.publicKey, sign: () => new Uint8Array(64) }, { type: "report-stolen", imei }, h.registryKey.kid);
  await refused(h, zeroed, undefined, "E_BAD_SIGNATURE", 403);
  await refused(h, stranger, { type: "report-stolen", imei }, "E_NOT_OWNER", 403);
  await refused(h, stranger, { type: "found", imei }, "E_NOT_OWNER", 403);
  await refused(h, stranger, { type: "transfer", imei, key: stranger.coseKey }, "E_NOT_OWNER", 403);
  await refused(h, stranger, { type: "flag", imei }, "E_NOT_AUTHORITY", 403);
  await refused(h, stranger, { type: "clear", imei }, "E_UNKNOWN_SIGNER", 403);
  // Freshness: outside the window, and a replayed id.
  await refused(h, owner, { type: "report-lost", imei, ts: Math.floor(Date.now() / 1000) - 301 }, "E_STALE", 403);
  const id = new Uint8Array(16).fill(9);
  assert.equal((await send(h, owner, { type: "report-lost", imei, id })).status, 200);
  await settled(h, d.did);
  await refused(h, owner, { type: "report-lost", imei, id }, "E_REPLAY", 409);
  // Shape: an over-long message, an unknown field.
  await refused(h, owner, { type: "report-stolen", imei, message: "x".repeat(129) }, "E_BAD_REQUEST", 400);
  await refused(h, owner, { type: "found", imei, key: owner.coseKey }, "E_BAD_REQUEST", 400);
  await refused(h, owner, { type: "found", imei: "490154203237519" }, "E_BAD_REQUEST", 400);
});

test("transfer moves ownership: the new owner may report, the old one may not", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const { d, imei, owner } = await owned(h);
  const buyer = newKey();
  const r = await send(h, owner, { type: "transfer", imei, key: buyer.coseKey });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await refused(h, owner, { type: "report-stolen", imei }, "E_NOT_OWNER", 403);
  assert.equal((await send(h, buyer, { type: "report-stolen", imei })).status, 200);
  await settled(h, d.did);
  // A flagged device cannot change hands.
  await refused(h, buyer, { type: "transfer", imei, key: owner.coseKey }, "E_FLAGGED", 409);
});

test("an authority flag blacklists and locks; the owner can neither clear it nor unlock; the authority clears", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const { d, ta, imei, owner } = await owned(h);
  const r = await send(h, h.authority, { type: "flag", imei, reason: "case 2024/117", message: "Reported to police" });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.status, "BLACKLISTED");
  await settled(h, d.did);
  assert.equal(ta.lockState, 2);
  const flag = h.registry.store.flags.active(d.did)[0]!;
  assert.equal(flag.kind, "authority");
  assert.equal(flag.reason, "case 2024/117");
  await refused(h, owner, { type: "clear", imei }, "E_NOT_FLAGGING_PARTY", 403);
  await refused(h, owner, { type: "found", imei }, "E_FLAGGED_BY_OTHER", 409);
  const other = newKey();
  const impostor = buildRequest({ publicKey: h.authority.publicKey, sign: (m) => other.signer.sign(m) }, { type: "clear", imei }, h.registryKey.kid);
  await refused(h, impostor, undefined, "E_BAD_SIGNATURE", 403);
  const c = await send(h, h.authority, { type: "clear", imei });
  assert.equal(c.status, 200, JSON.stringify(c.body));
  assert.equal(c.body.status, "WHITELISTED");
  // The clear rule: lifting the last flag unlocks, so the lock follows the network status.
  assert.deepEqual(c.body.commands, [{ seq: 2, action: "unlock" }]);
  await waitFor(() => ta.lockState === 0, "unlock");
  await settled(h, d.did);
  await refused(h, h.authority, { type: "clear", imei }, "E_NOT_FLAGGED", 409);
  await refused(h, owner, { type: "found", imei }, "E_NOT_FLAGGED", 409);
});

test("a flag-batch blacklists and locks every known IMEI in one request, lists the unknown, and is refused whole when malformed or unsigned", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const a = await owned(h);
  const b = await owned(h);
  const unknownImei = freshImei(); // a valid IMEI never enrolled here
  const r = await send(h, h.authority, { type: "flag-batch", imei: "", imeis: [a.imei, unknownImei, b.imei], reason: "shipment 7", message: "Blocked" });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.flagged, [{ imei: a.imei, status: "BLACKLISTED" }, { imei: b.imei, status: "BLACKLISTED" }]);
  assert.deepEqual(r.body.unknown, [unknownImei]);
  assert.deepEqual(r.body.commands.map((c: { imei: string; action: string }) => [c.imei, c.action]), [[a.imei, "lock"], [b.imei, "lock"]]);
  await settled(h, a.d.did);
  await settled(h, b.d.did);
  assert.equal(a.ta.lockState, 2);
  assert.equal(b.ta.lockState, 2);
  assert.equal(h.registry.store.flags.active(a.d.did)[0]!.reason, "shipment 7");
  assert.equal((await getJson(`${h.url}/n5g-eir-eic/v1/equipment-status?pei=imei-${unknownImei}`)).status, 404, "an unknown IMEI is not created by a batch");
  // The batch is the authority's: the owner cannot clear it; the authority clears one by one.
  await refused(h, a.owner, { type: "found", imei: a.imei }, "E_FLAGGED_BY_OTHER", 409);
  // Refused whole: a non-authority, duplicates, a bad check digit, none, too many, nothing known.
  const bad = a.imei.slice(0, 14) + String((Number(a.imei[14]) + 1) % 10);
  await refused(h, a.owner, { type: "flag-batch", imei: "", imeis: [a.imei] }, "E_NOT_AUTHORITY", 403);
  await refused(h, h.authority, { type: "flag-batch", imei: "", imeis: [a.imei, a.imei] }, "E_BAD_REQUEST", 400);
  await refused(h, h.authority, { type: "flag-batch", imei: "", imeis: [b.imei, bad] }, "E_BAD_REQUEST", 400);
  await refused(h, h.authority, { type: "flag-batch", imei: "", imeis: [] }, "E_BAD_REQUEST", 400);
  const many = Array.from({ length: 501 }, () => freshImei());
  await refused(h, h.authority, { type: "flag-batch", imei: "", imeis: many }, "E_BAD_REQUEST", 400);
  await refused(h, h.authority, { type: "flag-batch", imei: "", imeis: [unknownImei] }, "E_UNKNOWN_DEVICE", 404);
  await refused(h, h.authority, { type: "flag", imei: unknownImei }, "E_UNKNOWN_DEVICE", 404);
});

test("an authority clears the registry's clone suspicion; an owner's report and clear stay the owner's", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const { d, imei, owner } = await owned(h);
  assert.equal((await send(h, owner, { type: "report-lost", imei })).status, 200);
  await settled(h, d.did);
  await refused(h, h.authority, { type: "clear", imei }, "E_NOT_FLAGGING_PARTY", 403);
  assert.equal((await send(h, owner, { type: "clear", imei })).status, 200);
  assert.equal(await status(h, imei), "WHITELISTED");
  const clone = h.handset({ imei });
  const c = h.device(clone);
  await c.connect();
  await waitFor(() => h.registry.store.flags.active(d.did).some((f) => f.kind === "clone"), "clone flag");
  assert.equal(await status(h, imei), "GREYLISTED");
  await refused(h, owner, { type: "clear", imei }, "E_NOT_FLAGGING_PARTY", 403);
  const r = await send(h, h.authority, { type: "clear", imei });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body.cleared, ["clone", "clone"]);
  assert.equal(await status(h, imei), "GREYLISTED", "two keys still share the IMEI: never an implicit allow");
});

test("HTTP framing: wrong media type, oversized body, wrong method, unknown path", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const { imei, owner } = await owned(h);
  const ok = buildRequest(owner.signer, { type: "report-lost", imei }, h.registryKey.kid);
  const wrongType = await postCose(`${h.url}/antitheft/v1/requests`, ok, "text/plain");
  assert.equal(wrongType.status, 415);
  assert.equal(wrongType.body.code, "E_MEDIA_TYPE");
  // application/json is a WebAuthn-signed request (docs/PORTAL.md §3): COSE bytes are not one.
  const coseAsJson = await postCose(`${h.url}/antitheft/v1/requests`, ok, "application/json");
  assert.equal(coseAsJson.status, 400);
  assert.equal(coseAsJson.body.code, "E_BAD_REQUEST");
  const big = await postCose(`${h.url}/antitheft/v1/requests`, new Uint8Array(16 * 1024 + 1));
  assert.equal(big.status, 413);
  assert.equal(big.body.code, "E_TOO_LARGE");
  const get = await getJson(`${h.url}/antitheft/v1/requests`);
  assert.equal(get.status, 405);
  const none = await getJson(`${h.url}/nothing`);
  assert.equal(none.status, 404);
  assert.equal(none.body.code, "E_NOT_FOUND");
  assert.equal(await status(h, imei), "WHITELISTED");
});

