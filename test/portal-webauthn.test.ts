// The owner portal's passkeys over HTTP (docs/PORTAL.md), with a software authenticator
// (test/support/soft-authenticator.ts), ES256 and EdDSA: sign-up, WebAuthn-signed requests mapped
// onto the signed owner requests of PROTOCOL.md §6.2, and every refusal the issue names - an
// assertion from another credential, a replayed assertion, a forged origin or RP id, a request
// for a phone the credential does not own. Each refusal is paired with its negative control: the
// same request without the forgery is accepted, so the refusal is the check's doing. Refusals
// change nothing (the database is compared before and after).
import { test } from "node:test";
import assert from "node:assert/strict";
import { startHarness, fullView, getJson, waitFor, type Harness } from "./support/registry-sim.js";
import { claimProofFor } from "./support/claim.js";
import { PortalOwner } from "./support/portal-client.js";
import { snapshotDb } from "./support/e2e.js";
import { RegistryClient } from "../registry/client.js";
import { buildRequest, type RequestInput } from "../registry/request-codec.js";
import { signingKey } from "../registry/keys.js";
import { generateEd25519 } from "../attestation/index.js";
import { MAX_OPEN_CEREMONIES } from "../registry/webauthn.js";
import { randomBytes } from "node:crypto";

/** The portal's origin: the registry listens on 127.0.0.1; browsers and passkeys know it as localhost (an IP is no RP id). */
const originOf = (h: Harness): string => `http://localhost:${new URL(h.url).port}`;

/** An enrolled handset, unclaimed. */
async function handset(h: Harness) {
  const hs = h.handset();
  const d = h.device(hs);
  await d.connect();
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  return { hs, d, imei: hs.ta.id.imei };
}

/** Claims through the portal's flow: claim code, the handset hands in its proof, the claim. */
async function claim(h: Harness, o: PortalOwner, hs: Awaited<ReturnType<typeof handset>>): Promise<void> {
  const c = await o.request({ type: "claim-code", imei: hs.imei });
  assert.equal(c.status, 200, JSON.stringify(c.body));
  const handIn = await new RegistryClient(h.url).handInClaimProof(c.body.code, claimProofFor(hs.hs.ta, c.body.code));
  assert.equal(handIn.status, 200, JSON.stringify(handIn.body));
  const status = await o.call(`/portal/api/claim-status?code=${c.body.code}`);
  assert.equal(status.body.state, "proof-received");
  const r = await o.request({ type: "claim", imei: hs.imei, code: c.body.code });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal((await o.call(`/portal/api/claim-status?code=${c.body.code}`)).body.state, "claimed");
}

const eir = async (h: Harness, imei: string) => (await getJson(`${h.url}/n5g-eir-eic/v1/equipment-status?pei=imei-${imei}`)).body.status;
/** Everything but the tables a refused WebAuthn request may legitimately touch (none). */
const snap = (h: Harness) => snapshotDb(h.dbPath, { devices: ["last_seen", "online"], portal_sessions: [], webauthn_challenges: [] });

test("passkey owners (ES256 and EdDSA) sign up, claim through the hand-in box, report stolen and found", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  for (const alg of ["ES256", "EdDSA"] as const) {
    const o = new PortalOwner(h.url, originOf(h), alg);
    const up = await o.signUp(`owner ${alg}`);
    assert.equal(up.status, 200, JSON.stringify(up.body));
    assert.match(o.cookie, /^at_session=[A-Za-z0-9_-]{43}$/);
    assert.equal((await o.call("/portal/api/me")).body.alg, alg);
    const p = await handset(h);
    await claim(h, o, p);
    const phones = (await o.call("/portal/api/phones")).body.phones;
    assert.deepEqual(phones.map((x: { imei: string }) => x.imei), [p.imei]);
    const stolen = await o.request({ type: "report-stolen", imei: p.imei, message: "Stolen. Reward.", contact: "+15550100" });
    assert.equal(stolen.status, 200, JSON.stringify(stolen.body));
    assert.deepEqual(stolen.body.commands.map((c: { action: string }) => c.action), ["lock"]);
    await waitFor(() => p.hs.ta.lockState === 2, `the ${alg} owner's handset locks`);
    assert.equal(await eir(h, p.imei), "BLACKLISTED");
    const found = await o.request({ type: "found", imei: p.imei });
    assert.equal(found.status, 200, JSON.stringify(found.body));
    await waitFor(() => p.hs.ta.lockState === 0, `the ${alg} owner's handset unlocks`);
    assert.equal(await eir(h, p.imei), "WHITELISTED");
  }
});

test("refusals: another credential, a replayed assertion, a forged origin or RP id, a phone not owned - each with its negative control", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const alice = new PortalOwner(h.url, originOf(h), "ES256");
  const bob = new PortalOwner(h.url, originOf(h), "EdDSA");
  assert.equal((await alice.signUp("alice")).status, 200);
  assert.equal((await bob.signUp("bob")).status, 200);
  const a = await handset(h);
  const b = await handset(h);
  await claim(h, alice, a);
  await claim(h, bob, b);

  const refused = async (what: string, r: { status: number; body: any }, code: string) => {
    assert.equal(r.body.code, code, `${what}: ${JSON.stringify(r.body)}`);
    assert.ok(r.status === 403 || r.status === 409, `${what}: HTTP ${r.status}`);
  };
  const before = snap(h);

  // 1. Another credential: alice's request payload, signed by bob's passkey but naming alice's
  //    credential id - the signature does not verify under alice's key.
  await refused("bob's signature under alice's credential id", await alice.request({ type: "report-stolen", imei: a.imei }, { signWith: bob.authenticator }), "E_BAD_SIGNATURE");
  //    ... and bob's passkey, as itself, asking to lock alice's phone: not its owner.
  await refused("bob's passkey for alice's phone", await alice.request({ type: "report-stolen", imei: a.imei }, {}, bob.authenticator), "E_NOT_OWNER");
  // 2. A phone the credential does not own, through bob's own session.
  await refused("bob reports alice's phone", await bob.request({ type: "report-stolen", imei: a.imei }), "E_NOT_OWNER");
  // 3. Forged origin and RP id: a phishing site relaying the owner's passkey.
  await refused("another origin", await alice.request({ type: "report-lost", imei: a.imei }, { origin: "https://antitheft-login.example" }), "E_WEBAUTHN_ORIGIN");
  await refused("another RP id", await alice.request({ type: "report-lost", imei: a.imei }, { rpId: "antitheft-login.example" }), "E_WEBAUTHN_RP_ID");
  // 4. An assertion over one request does not authorise another (the challenge is the request's hash).
  const p1 = await alice.prepare({ type: "report-lost", imei: a.imei });
  const p2 = await alice.prepare({ type: "report-stolen", imei: a.imei });
  await refused("an assertion moved to another payload", await alice.post(JSON.stringify({ payload: p2.payload, credential: alice.authenticator.assert(p1.challenge) })), "E_WEBAUTHN_CHALLENGE");
  assert.equal(snap(h), before, "the refusals changed nothing");
  assert.equal(await eir(h, a.imei), "WHITELISTED");

  // Negative control: the same request, unforged, is accepted.
  const ok = await alice.request({ type: "report-stolen", imei: a.imei });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(await eir(h, a.imei), "BLACKLISTED");
  await waitFor(() => a.hs.ta.lockState === 2, "alice's handset locks");

  // 5. A replay of that accepted body: the authenticator's counter has not moved (WebAuthn §7.2 step 21).
  const afterOk = snap(h);
  await refused("a replayed assertion", await alice.post(ok.sent), "E_WEBAUTHN_COUNTER");
  const found = await alice.request({ type: "found", imei: a.imei });
  assert.equal(found.status, 200);
  await waitFor(() => a.hs.ta.lockState === 0, "alice's handset unlocks");
  await refused("a replayed assertion after a newer one", await alice.post(found.sent), "E_WEBAUTHN_COUNTER");
  assert.notEqual(afterOk, snap(h), "found went through");

  // An authenticator without a counter (always 0): the request id is what stops the replay.
  const carol = new PortalOwner(h.url, originOf(h), "EdDSA", false);
  assert.equal((await carol.signUp("carol")).status, 200);
  const c = await handset(h);
  await claim(h, carol, c);
  const lost = await carol.request({ type: "report-lost", imei: c.imei });
  assert.equal(lost.status, 200, JSON.stringify(lost.body));
  await refused("a replay from a counterless authenticator", await carol.post(lost.sent), "E_REPLAY");
});

test("sign-up and sign-in refusals; the portal's calls need its origin; a session reads, never writes", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const o = new PortalOwner(h.url, originOf(h), "ES256");
  assert.equal((await o.signUp("x", { origin: "https://evil.example" })).body.code, "E_WEBAUTHN_ORIGIN");
  assert.equal((await o.signUp("x", { rpId: "evil.example" })).body.code, "E_WEBAUTHN_RP_ID");
  assert.equal(o.cookie, "", "no session from a refused sign-up");
  // A sign-up challenge is single use.
  const opts = await o.call("/portal/api/sign-up/options", { name: "x" });
  const cred = o.authenticator.register(opts.body.options);
  assert.equal((await o.call("/portal/api/sign-up", { name: "x", credential: cred })).status, 200);
  const again = new PortalOwner(h.url, originOf(h), "ES256");
  assert.equal((await again.call("/portal/api/sign-up", { name: "y", credential: again.authenticator.register(opts.body.options) })).body.code, "E_WEBAUTHN_CHALLENGE");

  // Sign-in: a fresh challenge, consumed; a stranger's passkey is unknown.
  o.cookie = "";
  const si = await o.call("/portal/api/sign-in/options", {});
  assert.equal((await o.call("/portal/api/sign-in", { credential: o.authenticator.assert(si.body.options.challenge) })).status, 200);
  assert.match(o.cookie, /^at_session=/);
  assert.equal((await o.call("/portal/api/sign-in", { credential: o.authenticator.assert(si.body.options.challenge) })).body.code, "E_WEBAUTHN_CHALLENGE", "a sign-in challenge is used once");
  const si2 = await o.call("/portal/api/sign-in/options", {});
  assert.equal((await again.call("/portal/api/sign-in", { credential: again.authenticator.assert(si2.body.options.challenge) })).body.code, "E_UNKNOWN_SIGNER");

  // A flood of ceremonies is capped (the table of open challenges does not grow without bound).
  const store = h.registry.store;
  store.tx(() => {
    const now = Date.now();
    for (let i = store.webauthnChallenges.count(); i < MAX_OPEN_CEREMONIES; i++) store.webauthnChallenges.add(new Uint8Array(randomBytes(32)), "sign-in", now);
  });
  const flooded = await o.call("/portal/api/sign-in/options", {});
  assert.equal(flooded.status, 429);
  assert.equal(flooded.body.code, "E_RATE_LIMITED");
  store.db.exec("DELETE FROM webauthn_challenges");

  // Cross-site calls: no Origin, or another one.
  const noOrigin = await fetch(`${h.url}/portal/api/prepare`, { method: "POST", headers: { "content-type": "application/json", cookie: o.cookie }, body: "{}" });
  assert.equal((await noOrigin.json()).code, "E_CROSS_ORIGIN");
  assert.equal((await o.call("/portal/api/prepare", {}, { origin: "https://evil.example" })).body.code, "E_CROSS_ORIGIN");
  assert.equal((await fetch(`${h.url}/portal/api/phones`)).status, 401);

  // Device views: the owner's session sees the whole view; anyone else only flagged or not.
  const p = await handset(h);
  await claim(h, o, p);
  const mine = await o.call(`/antitheft/v1/devices/imei-${p.imei}`);
  assert.equal(mine.body.status, "WHITELISTED");
  assert.equal(typeof mine.body.devices[0].presence.online, "boolean");
  assert.ok(Array.isArray(mine.body.devices[0].timeline));
  const anyone = await getJson(`${h.url}/antitheft/v1/devices/imei-${p.imei}`);
  assert.deepEqual(anyone.body, { ok: true, imei: p.imei, flagged: false });
  const stranger = new PortalOwner(h.url, originOf(h), "EdDSA");
  await stranger.signUp("stranger");
  assert.deepEqual((await stranger.call(`/antitheft/v1/devices/imei-${p.imei}`)).body, { ok: true, imei: p.imei, flagged: false });
  // ... and through a signed "view" request: the owner's passkey via WebAuthn is not needed, an authority's key will do.
  const auth = await fullView(h.url, h.authority, p.imei);
  assert.equal(auth.body.devices[0].claimed, true);
  const notOwner = await new RegistryClient(h.url).send(buildRequest(h.registryKey.signer, { type: "view", imei: p.imei }, h.registryKey.kid));
  assert.equal(notOwner.body.code, "E_UNKNOWN_SIGNER");
});

test("the public check: flagged or not, nothing else, for any valid IMEI", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const o = new PortalOwner(h.url, originOf(h), "EdDSA");
  await o.signUp("o");
  const p = await handset(h);
  await claim(h, o, p);
  const check = async (imei: string) => getJson(`${h.url}/antitheft/v1/check/imei-${imei}`);
  assert.deepEqual((await check(p.imei)).body, { ok: true, imei: p.imei, flagged: false });
  assert.equal((await o.request({ type: "report-stolen", imei: p.imei, message: "mine", contact: "+15550100" })).status, 200);
  const flagged = await check(p.imei);
  assert.deepEqual(flagged.body, { ok: true, imei: p.imei, flagged: true }, "no owner, presence, lock, message or contact");
  assert.deepEqual((await check("490154203237518")).body, { ok: true, imei: "490154203237518", flagged: false }, "an unknown IMEI reads as not flagged: the check does not tell what the registry knows");
  const bad = await check("490154203237519");
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, "E_BAD_REQUEST");
});

test("transfers between kinds of key: passkey -> passkey, passkey -> CLI key, CLI key -> passkey; the new owner reports", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const alice = new PortalOwner(h.url, originOf(h), "ES256");
  const bob = new PortalOwner(h.url, originOf(h), "EdDSA");
  await alice.signUp("alice");
  await bob.signUp("bob");
  const p = await handset(h);
  await claim(h, alice, p);

  // To another passkey, named by its owner id (kid) as the portal shows it.
  const toBob = await alice.request({ type: "transfer", imei: p.imei, newOwner: bob.kid });
  assert.equal(toBob.status, 200, JSON.stringify(toBob.body));
  assert.deepEqual((await bob.call("/portal/api/phones")).body.phones.map((x: { imei: string }) => x.imei), [p.imei]);
  assert.deepEqual((await alice.call("/portal/api/phones")).body.phones, []);
  assert.equal((await alice.request({ type: "report-stolen", imei: p.imei })).body.code, "E_NOT_OWNER", "the previous owner's passkey no longer counts");

  // To a CLI owner's Ed25519 key; the CLI owner signs COSE requests as before.
  const cli = signingKey(generateEd25519().privateKey);
  const toCli = await bob.request({ type: "transfer", imei: p.imei, newOwner: Buffer.from(cli.publicKey).toString("hex") });
  assert.equal(toCli.status, 200, JSON.stringify(toCli.body));
  const send = (r: RequestInput) => new RegistryClient(h.url).send(buildRequest(cli.signer, r, h.registryKey.kid));
  assert.equal((await send({ type: "report-lost", imei: p.imei })).status, 200);
  assert.equal((await send({ type: "found", imei: p.imei })).status, 200);

  // Back to a passkey, from the CLI: "key" is the passkey's COSE_Key, which must be registered here.
  const unregistered = new PortalOwner(h.url, originOf(h), "ES256");
  assert.equal((await send({ type: "transfer", imei: p.imei, key: unregistered.authenticator.coseKey })).body.code, "E_BAD_KEY");
  const back = await send({ type: "transfer", imei: p.imei, key: alice.authenticator.coseKey });
  assert.equal(back.status, 200, JSON.stringify(back.body));
  assert.equal((await send({ type: "report-stolen", imei: p.imei })).body.code, "E_NOT_OWNER");
  const stolen = await alice.request({ type: "report-stolen", imei: p.imei, message: "mine again" });
  assert.equal(stolen.status, 200, JSON.stringify(stolen.body));
  await waitFor(() => p.hs.ta.lockState === 2, "the handset locks for its passkey owner");
});
