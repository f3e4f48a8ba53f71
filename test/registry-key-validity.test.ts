// Owner, authority and OEM keys of small order, off the curve or non-canonical are refused
// everywhere a key is accepted: claim, transfer, and the registry's pinned authorities and OEM
// roots (options and key files). Under the identity point anyone signs anything (R = [r]B, S = r
// verifies for every message), so a claim under it would give the phone to whoever signs next.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ed25519, ED25519_TORSION_SUBGROUP } from "@noble/curves/ed25519.js";
import { coseKeyFromPublic, generateEd25519, kidOfPublic, publicKeyFromRaw, rawPublicKey, type Signer } from "../attestation/index.js";
import { buildRequest, type RequestInput } from "../registry/request-codec.js";
import { claimProofFor, claimWithCode } from "./support/claim.js";
import { loadPublicKey, signingKey, type SigningKey } from "../registry/keys.js";
import { ed25519KeyProblem } from "../registry/key-validity.js";
import { Registry } from "../registry/registry.js";
import { RegistryError } from "../registry/errors.js";
import { OEM, startHarness, postCose, tempDir, waitFor } from "./support/registry-sim.js";
import { smallOrderEncodings, nonCanonicalY } from "./support/ed25519-edge.js";
import { unhex } from "./support/ta.js";
import { cosignerKey, parseCosignerKey } from "../registry/ledger/cosignature.js";
import { parseVerifierKey, verifierKey } from "../registry/ledger/note.js";

const L = ed25519.Point.Fn.ORDER;

/** Signs as the identity point: R = [r]B, S = r, so [S]B = R + [k]A holds for every message. */
function identitySigner(): Signer {
  const publicKey = unhex(ED25519_TORSION_SUBGROUP[0]!);
  return {
    publicKey,
    sign() {
      const r = (BigInt("0x" + Buffer.from(randomBytes(32)).toString("hex")) % (L - 1n)) + 1n;
      const R = ed25519.Point.BASE.multiply(r).toBytes();
      const S = new Uint8Array(32);
      let x = r;
      for (let i = 0; i < 32; i++, x >>= 8n) S[i] = Number(x & 0xffn);
      return new Uint8Array([...R, ...S]);
    },
  };
}

test("ed25519KeyProblem refuses the 8 small-order points, non-canonical and off-curve encodings; accepts generated keys", () => {
  for (const { name, enc } of smallOrderEncodings()) assert.notEqual(ed25519KeyProblem(enc), undefined, name);
  for (let i = 0; i < 8; i++) assert.equal(ed25519KeyProblem(unhex(ED25519_TORSION_SUBGROUP[i]!)), "small-order");
  assert.equal(ed25519KeyProblem(nonCanonicalY(2, 0)) !== undefined, true);
  // A genuine key plus a torsion point: on the curve, not of small order, not in the subgroup.
  const good = rawPublicKey(generateEd25519().privateKey);
  const mixed = ed25519.Point.fromBytes(good).add(ed25519.Point.fromHex(ED25519_TORSION_SUBGROUP[1]!)).toBytes();
  assert.equal(ed25519KeyProblem(mixed), "mixed-order");
  let offCurve: Uint8Array | undefined;
  for (let y = 2; !offCurve; y++) {
    const e = new Uint8Array(32);
    e[0] = y;
    try {
      ed25519.Point.fromBytes(e);
    } catch {
      offCurve = e;
    }
  }
  assert.equal(ed25519KeyProblem(offCurve), "not-on-curve");
  assert.equal(ed25519KeyProblem(new Uint8Array(31)), "length");
  for (let i = 0; i < 20; i++) assert.equal(ed25519KeyProblem(rawPublicKey(generateEd25519().privateKey)), undefined);
});

test("a claim or transfer naming a small-order key is refused with E_BAD_KEY and changes nothing", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const post = (s: Signer, r: RequestInput) => postCose(`${h.url}/antitheft/v1/requests`, buildRequest(s, r, h.registryKey.kid));
  const hs = h.handset();
  const d = h.device(hs);
  await d.connect();
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  const weak = identitySigner();
  const weakCose = coseKeyFromPublic(weak.publicKey);
  assert.deepEqual([...kidOfPublic(weak.publicKey)].length, 16);
  const c = await post(weak, { type: "claim", imei: hs.ta.id.imei, key: weakCose, code: "00000-00000", proof: claimProofFor(hs.ta, "00000-00000") });
  assert.equal(c.body.code, "E_BAD_KEY", JSON.stringify(c.body));
  assert.equal(c.status, 400);
  assert.equal(h.registry.store.owners.current(d.did), undefined, "the handset was claimed under a key anyone can sign with");

  const owner: SigningKey = signingKey(generateEd25519().privateKey);
  assert.equal((await claimWithCode((r) => post(owner.signer, r), owner, hs.ta, hs.ta.id.imei)).status, 200);
  for (const { name, enc } of smallOrderEncodings().slice(0, 8)) {
    const r = await post(owner.signer, { type: "transfer", imei: hs.ta.id.imei, key: coseKeyFromPublic(enc) });
    assert.equal(r.body.code, "E_BAD_KEY", `${name}: ${JSON.stringify(r.body)}`);
  }
  assert.deepEqual([...h.registry.store.owners.current(d.did)!.kid], [...owner.kid], "ownership did not move");
});

test("a claim-code request or an authority's reset-owner naming a small-order key is refused with E_BAD_KEY and changes nothing", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const post = (s: Signer, r: RequestInput) => postCose(`${h.url}/antitheft/v1/requests`, buildRequest(s, r, h.registryKey.kid));
  const hs = h.handset();
  const d = h.device(hs);
  await d.connect();
  await waitFor(() => h.registry.store.devices.get(d.did), "enrolment");
  const weak = identitySigner();
  const code = await post(weak, { type: "claim-code", imei: hs.ta.id.imei, key: coseKeyFromPublic(weak.publicKey) });
  assert.equal(code.body.code, "E_BAD_KEY", JSON.stringify(code.body));
  assert.equal(h.registry.store.db.prepare("SELECT count(*) FROM claim_codes").pluck().get(), 0, "a claim code was issued to a key anyone can sign with");
  for (const { name, enc } of smallOrderEncodings().slice(0, 8)) {
    const r = await post(h.authority.signer, { type: "reset-owner", imei: hs.ta.id.imei, key: coseKeyFromPublic(enc), reason: "test" });
    assert.equal(r.body.code, "E_BAD_KEY", `${name}: ${JSON.stringify(r.body)}`);
  }
  assert.equal(h.registry.store.owners.current(d.did), undefined, "reset-owner gave the phone to a key anyone can sign with");
});

test("pinning a small-order authority or OEM key is a configuration error (options and key files)", () => {
  const dir = tempDir();
  try {
    const weak = unhex(ED25519_TORSION_SUBGROUP[3]!);
    const registryKey = signingKey(generateEd25519().privateKey);
    const make = (o: { oem?: Uint8Array; authority?: Uint8Array }) =>
      new Registry({ db: join(dir.path, `r${Math.random()}.sqlite`), registryKey, oemRoots: [o.oem ?? OEM.publicKey], authorities: o.authority ? [o.authority] : [] });
    assert.throws(() => make({ authority: weak }), (e: unknown) => e instanceof RegistryError && e.code === "E_CONFIG");
    assert.throws(() => make({ oem: weak }), (e: unknown) => e instanceof RegistryError && e.code === "E_CONFIG");
    // The SPKI PEM of a small-order point, as a key file.
    const pem = publicKeyFromRaw(weak).export({ format: "pem", type: "spki" }) as string;
    const file = join(dir.path, "weak.pub");
    writeFileSync(file, pem);
    assert.throws(() => loadPublicKey(file), (e: unknown) => e instanceof RegistryError && e.code === "E_CONFIG" && /small order/.test(e.message));
  } finally {
    dir.cleanup();
  }
});

test("a small-order ledger peer key, witness cosigner key or checkpoint verifier key is refused (under it anyone signs entries, heads and cosignatures)", () => {
  // Without the check a registry would pin the identity point as a peer's log key and apply any
  // flag "signed" under it (identitySigner above), and a witness policy would count forged
  // cosignatures toward its quorum.
  const dir = tempDir();
  try {
    const registryKey = signingKey(generateEd25519().privateKey);
    const fine = signingKey(generateEd25519().privateKey).publicKey;
    for (const hex of ED25519_TORSION_SUBGROUP) {
      const weak = unhex(hex);
      assert.throws(
        () => new Registry({ db: join(dir.path, `p${Math.random()}.sqlite`), registryKey, oemRoots: [OEM.publicKey], ledger: { federationKey: new Uint8Array(32).fill(1), peers: [{ publicKey: weak, name: "weak" }] } }),
        (e: unknown) => e instanceof RegistryError && e.code === "E_CONFIG" && /ledger peer/.test(e.message),
        `ledger peer ${hex}`,
      );
      const c = parseCosignerKey(cosignerKey("witness.example/w", weak));
      assert.ok(!c.ok && c.code === "E_LEDGER_SHAPE", `cosigner ${hex}`);
      const v = parseVerifierKey(verifierKey("log.example/l", weak));
      assert.ok(!v.ok && v.code === "E_LEDGER_SHAPE", `verifier ${hex}`);
    }
    // Sound keys still pass.
    assert.ok(parseCosignerKey(cosignerKey("witness.example/w", fine)).ok);
    assert.ok(parseVerifierKey(verifierKey("log.example/l", fine)).ok);
    const r = new Registry({ db: join(dir.path, "ok.sqlite"), registryKey, oemRoots: [OEM.publicKey], ledger: { federationKey: new Uint8Array(32).fill(1), peers: [{ publicKey: fine, name: "fine" }] } });
    r.store.close();
  } finally {
    dir.cleanup();
  }
});
