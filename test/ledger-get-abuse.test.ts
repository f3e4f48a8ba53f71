// `get` is an amplifier (docs/LEDGER.md §6.1): one small request makes a log re-publish entries
// to every member. A log answers only gets signed by a member it pins, fresh, naming that log;
// one answer carries at most 512 entries; each member has a budget of answered messages.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "mqtt";
import { generateEd25519, toHex } from "../attestation/index.js";
import { encodeDeterministic } from "../attestation/cbor/deterministic.js";
import { signingKey, type SigningKey } from "../registry/keys.js";
import { peekEntry } from "../registry/ledger/entry.js";
import { signGet, MAX_GET_RANGE } from "../registry/ledger/get-request.js";
import { ledgerTopic } from "../registry/ledger/topics.js";
import { freshImei, waitFor } from "./support/registry-sim.js";
import { startFederation, type Member } from "./support/ledger-sim.js";

const BUDGET = 700;

async function listen(url: string, topics: string[]) {
  const c = connect(url, { clientId: `at-test-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
  await new Promise<void>((resolve, reject) => {
    c.once("connect", () => resolve());
    c.once("error", reject);
  });
  const got: { topic: string; payload: Uint8Array; retain: boolean }[] = [];
  c.on("message", (topic, payload, packet) => got.push({ topic, payload: new Uint8Array(payload), retain: packet.retain }));
  await c.subscribeAsync(topics.map((t) => t), { qos: 1 });
  return { c, got, publish: (topic: string, p: Uint8Array) => c.publishAsync(topic, Buffer.from(p), { qos: 1 }) };
}

test("an unsigned, unpinned, foreign or stale get publishes nothing; a member's get is bounded by range and budget", async (t) => {
  const member = signingKey(generateEd25519().privateKey); // a member registry A pins, played by the test
  const second = signingKey(generateEd25519().privateKey); // another pinned member, its own budget
  const outsider = signingKey(generateEd25519().privateKey);
  const f = await startFederation({
    names: ["A"],
    extraPeers: () => [{ publicKey: member.publicKey, name: "M" }, { publicKey: second.publicKey, name: "N" }],
    ledgerOver: () => ({ getLimit: { messages: BUDGET, perMs: 3_600_000 } }),
  });
  t.after(() => f.close());
  const A = f.member("A") as Member;
  const ledger = A.registry.ledger!;
  ledger.db.tx(() => {
    for (let i = 0; i < 600; i++) ledger.local.append({ ev: "stolen", imeis: [freshImei()], by: "authority" });
  });
  const head = ledger.head();
  assert.equal(head.size, 600);
  const log = ledger.local.logId;
  const own = toHex(log);
  const l = await listen(f.broker.url, [ledgerTopic(own, "entry")]);
  t.after(() => l.c.endAsync());
  const entries = () => l.got.filter((x) => x.topic.endsWith("/entry"));
  const get = (key: SigningKey, start: number, end: number, over: { log?: Uint8Array; ts?: number } = {}) =>
    l.publish(ledgerTopic(own, "get"), signGet({ log: over.log ?? log, start, end, ts: over.ts ?? Date.now() }, key.signer, key.kid));

  // Refused: the old unsigned form, an outsider's signature, another log's get replayed here, a stale one.
  await l.publish(ledgerTopic(own, "get"), encodeDeterministic({ v: 1, start: 0, end: 600 }));
  await get(outsider, 0, 600);
  await get(member, 0, 600, { log: new Uint8Array(16).fill(7) });
  await get(member, 0, 600, { ts: Date.now() - 3_600_000 });
  await waitFor(() => A.log.named("ledger.refused").filter((e) => e.kind === "get").length >= 4, "four gets refused", 20_000);
  // A member's get is answered: a barrier behind the refused ones (one subscriber, in order).
  await get(member, 599, 600);
  await waitFor(() => entries().length >= 1, "the member's get answered", 20_000);
  await A.registry.idle();
  assert.equal(entries().length, 1, "only the member's get was answered");
  assert.equal((peekEntry(entries()[0]!.payload) as { ok: true; value: { seq: number } }).value.seq, 599);
  const codes = A.log.named("ledger.refused").filter((e) => e.kind === "get").map((e) => e.code);
  assert.deepEqual(codes.sort(), ["E_LEDGER_LOG", "E_LEDGER_LOG", "E_LEDGER_SHAPE", "E_LEDGER_STALE"]);

  // One get: at most 512 entries.
  await get(member, 0, 1_000_000);
  await waitFor(() => entries().length >= 1 + MAX_GET_RANGE, "the bounded answer", 30_000);
  await A.registry.idle();
  assert.equal(entries().length, 1 + MAX_GET_RANGE);
  // The member's budget: 700 messages (entries + one head per answer); 2 + 513 spent so far.
  await get(member, 0, 512);
  await waitFor(() => entries().length >= BUDGET - 3, "the rest of the budget", 30_000);
  assert.equal(A.log.named("ledger.get-limited").length, 1);
  await get(member, 0, 512);
  await waitFor(() => A.log.named("ledger.get-limited").length >= 2, "the next get refused", 30_000);
  // Another member's get, answered after the refused one (A publishes in order): a barrier.
  await get(second, 599, 600);
  await waitFor(() => entries().length >= BUDGET - 2, "the other member's get answered", 30_000);
  await A.registry.idle();
  assert.equal(entries().length, BUDGET - 3 + 1, "entries published for a member never exceed its budget; other members keep theirs");
});
