// One registry's ledger: signed entries and tree heads (round trip, hostile bytes, domain
// separation), IMEI pseudonyms, the compact range, entries committed in the flag's own
// transaction (a rolled-back change leaves no entry), flags raised before the ledger existed,
// and the HTTP resources' refusals.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import fc from "fast-check";
import { generateEd25519, publicKeyFromRaw, toHex } from "../attestation/index.js";
import { signingKey } from "../registry/keys.js";
import { Registry } from "../registry/registry.js";
import { raiseFlag, REGISTRY_PARTY } from "../registry/flagging.js";
import { peekEntry, signEntry, verifyEntry, type EntryBody } from "../registry/ledger/entry.js";
import { signTreeHead, verifyTreeHead } from "../registry/ledger/tree-head.js";
import { FederationKey } from "../registry/ledger/pseudonym.js";
import { CompactRange } from "../registry/ledger/compact-range.js";
import { MemoryTree } from "../registry/ledger/merkle.js";
import { checkEvidence } from "../registry/ledger/evidence.js";
import { decodeEvidence, encodeEvidence, parseLedgerTopic } from "../registry/ledger/topics.js";
import { openGet, signGet } from "../registry/ledger/get-request.js";
import { OEM, getJson, tempDir } from "./support/registry-sim.js";

const key = signingKey(generateEd25519().privateKey);
const other = signingKey(generateEd25519().privateKey);
const pub = publicKeyFromRaw(key.publicKey);
const fk = new FederationKey(new Uint8Array(32).fill(3));
const body = (over: Partial<EntryBody> = {}): EntryBody => ({
  log: key.kid, seq: 5, ts: 1_700_000_000_000, ev: "stolen", sub: [fk.pseudonym("490154203237518")], fk: fk.id, by: "owner", ...over,
});

test("entries and tree heads: signed, verified under the log's key only, fields exact", () => {
  const e = signEntry(body(), key.signer);
  const v = verifyEntry(e, pub, key.kid);
  assert.ok(v.ok);
  assert.equal(v.value.seq, 5);
  assert.equal(v.value.ev, "stolen");
  assert.equal(e[0], 0xd2, "a bare COSE_Sign1, tag 18");
  const clear = signEntry(body({ seq: 6, ev: "found", ref: 5 }), key.signer);
  assert.equal(verifyEntry(clear, pub, key.kid).ok && peekEntry(clear).ok, true);
  const refusals: [Uint8Array, string][] = [
    [signEntry(body(), other.signer), "E_LEDGER_SIGNATURE"], // signed by another key under this log's kid
    [signEntry({ ...body(), log: other.kid }, other.signer), "E_LEDGER_LOG"],
    [signEntry(body({ ev: "found" }), key.signer), "E_LEDGER_SHAPE"], // a clear without ref
    [signEntry(body({ ev: "cleared", ref: 5 }), key.signer), "E_LEDGER_SHAPE"], // ref not < seq
    [signEntry(body({ ref: 1 }), key.signer), "E_LEDGER_SHAPE"], // a raise with a ref
    [signEntry(body({ sub: [] }), key.signer), "E_LEDGER_SHAPE"],
    [signEntry(body({ sub: [new Uint8Array(32), new Uint8Array(32), new Uint8Array(32)] }), key.signer), "E_LEDGER_SHAPE"],
    [signEntry(body({ ev: "wiped" as "stolen" }), key.signer), "E_LEDGER_SHAPE"],
  ];
  for (const [bytes, code] of refusals) {
    const r = verifyEntry(bytes, pub, key.kid);
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.code, code);
  }
  const tampered = new Uint8Array(e);
  tampered[tampered.length - 1]! ^= 1;
  const r = verifyEntry(tampered, pub, key.kid);
  assert.ok(!r.ok && r.code === "E_LEDGER_SIGNATURE");
  // Domain separation: an entry is not a head and a head is not an entry, under one key.
  const h = signTreeHead({ log: key.kid, size: 3, root: new Uint8Array(32).fill(1), ts: 9 }, key.signer);
  assert.ok(verifyTreeHead(h.cose, pub, key.kid).ok);
  assert.equal(verifyTreeHead(e, pub, key.kid).ok, false);
  assert.equal(verifyEntry(h.cose, pub, key.kid).ok, false);
});

test("property: hostile bytes never throw and never verify", () => {
  const e = signEntry(body(), key.signer);
  const h = signTreeHead({ log: key.kid, size: 3, root: new Uint8Array(32).fill(1), ts: 9 }, key.signer).cose;
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (junk, at, x) => {
      for (const f of [verifyEntry, verifyTreeHead]) assert.equal(f(junk, pub, key.kid).ok, false);
      assert.equal(peekEntry(junk).ok && verifyEntry(junk, pub, key.kid).ok, false);
      for (const good of [e, h]) {
        const m = new Uint8Array(good);
        m[at % m.length]! ^= x;
        assert.equal(verifyEntry(m, pub, key.kid).ok || verifyTreeHead(m, pub, key.kid).ok, false);
      }
      assert.doesNotThrow(() => [openGet(junk, key.kid, () => pub, 0), decodeEvidence(junk)]);
      assert.equal(openGet(junk, key.kid, () => pub, 0).ok, false);
    }),
    { numRuns: 300 },
  );
  for (const x of [undefined, null, "x", 5, {}, new Uint8Array(5000)]) {
    assert.equal(verifyEntry(x, pub, key.kid).ok, false);
    assert.equal(verifyTreeHead(x, pub, key.kid).ok, false);
  }
});

test("fork evidence proves itself; messages and topics round-trip", () => {
  const a = signTreeHead({ log: key.kid, size: 3, root: new Uint8Array(32).fill(1), ts: 9 }, key.signer).cose;
  const b = signTreeHead({ log: key.kid, size: 3, root: new Uint8Array(32).fill(2), ts: 9 }, key.signer).cose;
  const c = signTreeHead({ log: key.kid, size: 4, root: new Uint8Array(32).fill(2), ts: 9 }, key.signer).cose;
  const byOther = signTreeHead({ log: key.kid, size: 3, root: new Uint8Array(32).fill(3), ts: 9 }, other.signer).cose;
  assert.deepEqual(checkEvidence("E_LEDGER_FORK", a, b, pub, key.kid), { ok: true, value: 3 });
  assert.equal(checkEvidence("E_LEDGER_FORK", a, a, pub, key.kid).ok, false, "the same head twice");
  assert.equal(checkEvidence("E_LEDGER_FORK", a, c, pub, key.kid).ok, false, "different sizes prove nothing alone");
  assert.equal(checkEvidence("E_LEDGER_FORK", a, byOther, pub, key.kid).ok, false, "not signed by the log");
  const e1 = signEntry(body(), key.signer);
  const e2 = signEntry(body({ ev: "lost" }), key.signer);
  assert.deepEqual(checkEvidence("E_LEDGER_ENTRY_FORK", e1, e2, pub, key.kid), { ok: true, value: 5 });
  assert.equal(checkEvidence("E_LEDGER_ENTRY_FORK", e1, signEntry(body({ seq: 6 }), key.signer), pub, key.kid).ok, false);
  const ev = decodeEvidence(encodeEvidence({ code: "E_LEDGER_FORK", a, b }));
  assert.ok(ev.ok && ev.value.code === "E_LEDGER_FORK");
  // A get: signed by a pinned member (other), naming this log (key.kid), fresh, capped at 512 entries.
  const member = (hex: string) => (hex === toHex(other.kid) ? publicKeyFromRaw(other.publicKey) : undefined);
  const g = openGet(signGet({ log: key.kid, start: 2, end: 10_000, ts: 1000 }, other.signer, other.kid), key.kid, member, 2000);
  assert.ok(g.ok && g.value.start === 2 && g.value.end === 514 && g.value.from === toHex(other.kid), "a get is capped at 512 entries");
  assert.equal(openGet(signGet({ log: key.kid, start: 5, end: 5, ts: 1000 }, other.signer, other.kid), key.kid, member, 1000).ok, false);
  assert.equal(openGet(signGet({ log: key.kid, start: 0, end: 5, ts: 1000 }, key.signer, key.kid), key.kid, member, 1000).ok, false, "not a pinned member");
  assert.equal(openGet(signGet({ log: other.kid, start: 0, end: 5, ts: 1000 }, other.signer, other.kid), key.kid, member, 1000).ok, false, "another log's get");
  assert.equal(openGet(signGet({ log: key.kid, start: 0, end: 5, ts: 1000 }, other.signer, other.kid), key.kid, member, 1000 + 6 * 60_000).ok, false, "stale");
  assert.deepEqual(parseLedgerTopic(`at/v1/ledger/${"ab".repeat(16)}/sth`), { log: "ab".repeat(16), kind: "sth" });
  for (const t of ["at/v1/ledger/AB/sth", `at/v1/ledger/${"ab".repeat(16)}/nope`, `at/v1/d/${"ab".repeat(16)}/hello`]) assert.equal(parseLedgerTopic(t), undefined);
});

test("pseudonyms: keyed, stable per handset (IMEI or TAC+SNR), different under another key", () => {
  const imei = "490154203237518";
  assert.deepEqual(fk.pseudonym(imei), fk.pseudonym(imei.slice(0, 14)));
  assert.notDeepEqual(fk.pseudonym(imei), fk.pseudonym("356938035643809"));
  const fk2 = new FederationKey(new Uint8Array(32).fill(4));
  assert.notDeepEqual(fk.pseudonym(imei), fk2.pseudonym(imei));
  assert.notDeepEqual(fk.id, fk2.id);
  assert.equal(fk.id.length, 8);
  assert.throws(() => fk.pseudonym("12345"), RangeError);
  assert.throws(() => new FederationKey(new Uint8Array(31)), /32 bytes/);
});

test("property: a compact range extended leaf by leaf has the tree's root at every size", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 300 }), fc.nat(), (leaves, cut) => {
      const tree = new MemoryTree();
      const k = leaves.length === 0 ? 0 : cut % (leaves.length + 1);
      let range = new CompactRange();
      leaves.forEach((l, i) => {
        tree.append(l);
        range.append(l);
        if (i + 1 === k) range = new CompactRange(range.size, range.hashes); // saved and reloaded
        assert.deepEqual(range.root(), tree.root());
      });
    }),
    { numRuns: 60 },
  );
  assert.throws(() => new CompactRange(3, [new Uint8Array(32)]), RangeError);
});

async function registry(t: { after(fn: () => unknown): void }, dbPath?: string, ledger = true) {
  const dir = tempDir("at-ledger-log-");
  const r = new Registry({
    db: dbPath ?? join(dir.path, "r.sqlite"),
    registryKey: key,
    oemRoots: [OEM.publicKey],
    http: { host: "127.0.0.1", port: 0 },
    ...(ledger ? { ledger: { federationKey: fk, name: "solo" } } : {}),
  });
  await r.start();
  t.after(async () => {
    await r.stop();
    dir.cleanup();
  });
  return r;
}

function device(r: Registry, imei: string, n: number): string {
  const did = n.toString(16).padStart(32, "0");
  r.store.tx(() => {
    r.store.devices.insert({
      did, deviceKey: new Uint8Array(32).fill(n), endorsement: new Uint8Array([n]), oemid: new Uint8Array(3), hwmodel: new Uint8Array([0x41]),
      at: 1, bootcount: 1, lockState: 0, lastSeq: 0, tampered: false, measurement: null,
    });
    r.store.imeis.bind(imei, did, 1, 1);
  });
  return did;
}

test("a ledger entry commits with its flag, or not at all", async (t) => {
  const r = await registry(t);
  const did = device(r, "490154203237518", 1);
  const L = r.ledger!;
  assert.equal(L.local.size(), 0);
  assert.throws(() =>
    r.store.tx(() => {
      raiseFlag(r.ctx, did, "490154203237518", "clone", REGISTRY_PARTY, "test");
      throw new Error("the change fails after the flag");
    }),
  );
  assert.equal(L.local.size(), 0, "rolled back with the flag");
  assert.equal(r.store.flags.active(did).length, 0);
  r.store.tx(() => raiseFlag(r.ctx, did, "490154203237518", "clone", REGISTRY_PARTY, "test"));
  assert.equal(L.local.size(), 1);
  await r.idle();
  const sth = (await getJson(`${r.httpUrl}/antitheft/v1/ledger/sth`)).body;
  assert.equal(sth.size, 1);
  const e = peekEntry(new Uint8Array(Buffer.from((await getJson(`${r.httpUrl}/antitheft/v1/ledger/entries?start=0`)).body.entries[0], "base64")));
  assert.ok(e.ok && e.value.ev === "clone" && e.value.by === "registry");
});

test("flags raised before the ledger was enabled are published when it starts", async (t) => {
  const dir = tempDir("at-ledger-backfill-");
  t.after(() => dir.cleanup());
  const path = join(dir.path, "r.sqlite");
  const plain = new Registry({ db: path, registryKey: key, oemRoots: [OEM.publicKey] });
  await plain.start();
  const did = device(plain, "356938035643809", 2);
  plain.store.tx(() => raiseFlag(plain.ctx, did, "356938035643809", "tampered", REGISTRY_PARTY, "old"));
  await plain.stop();
  const r = await registry(t, path);
  assert.equal(r.ledger!.local.size(), 1);
  const e = peekEntry(r.ledger!.db.tree.entry(r.ledger!.local.row.id, 0)!);
  assert.ok(e.ok && e.value.ev === "tampered");
});

test("ledger HTTP resources refuse what they cannot answer", async (t) => {
  const r = await registry(t);
  const base = `${r.httpUrl}/antitheft/v1/ledger`;
  const cases: [string, number, string][] = [
    ["/entries", 400, "E_BAD_REQUEST"],
    ["/entries?start=-1", 400, "E_BAD_REQUEST"],
    ["/entries?start=5", 400, "E_BAD_REQUEST"],
    ["/proof/inclusion?index=0&size=1", 400, "E_BAD_REQUEST"],
    ["/proof/consistency?first=1&second=0", 400, "E_BAD_REQUEST"],
    [`/sth?log=${"00".repeat(16)}`, 404, "E_NOT_FOUND"],
    ["/sth?log=xyz", 404, "E_NOT_FOUND"],
    ["/nothing", 404, "E_NOT_FOUND"],
  ];
  for (const [path, status, code] of cases) {
    const res = await getJson(base + path);
    assert.equal(res.status, status, path);
    assert.equal(res.body.code, code, path);
  }
  const post = await fetch(`${base}/sth`, { method: "POST" });
  assert.equal(post.status, 405);
  assert.deepEqual((await getJson(`${base}/proof/consistency?first=0&second=0`)).body.path, []);
  assert.equal((await getJson(`${base}/sth`)).body.root, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const plain = await registry(t, undefined, false);
  assert.equal((await getJson(`${plain.httpUrl}/antitheft/v1/ledger/sth`)).status, 404, "no ledger, no resource");
});

test("configuration errors: another registry key on a ledger database, or this registry pinned as its own peer", async (t) => {
  const dir = tempDir("at-ledger-config-");
  t.after(() => dir.cleanup());
  const path = join(dir.path, "r.sqlite");
  const first = new Registry({ db: path, registryKey: key, oemRoots: [OEM.publicKey], ledger: { federationKey: fk } });
  await first.start();
  await first.stop();
  assert.throws(() => new Registry({ db: path, registryKey: other, oemRoots: [OEM.publicKey], ledger: { federationKey: fk } }), (e: Error & { code?: string }) => e.code === "E_CONFIG" && /new database/.test(e.message));
  assert.throws(
    () => new Registry({ db: join(dir.path, "s.sqlite"), registryKey: key, oemRoots: [OEM.publicKey], ledger: { federationKey: fk, peers: [{ publicKey: key.publicKey }] } }),
    (e: Error & { code?: string }) => e.code === "E_CONFIG",
  );
  assert.throws(() => new Registry({ db: join(dir.path, "u.sqlite"), registryKey: key, oemRoots: [OEM.publicKey], ledger: { federationKey: new Uint8Array(16) } }), /32 bytes/);
});
