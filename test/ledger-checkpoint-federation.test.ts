// Federation over the C2SP checkpoints (docs/LEDGER.md §7.2): a member's checkpoint on
// at/v1/ledger/<log>/checkpoint is checked against the mirror of its log whether or not a witness
// policy is configured: a checkpoint whose root the member's own signed entries do not reproduce
// is an E_LEDGER_ROOT alarm (the member signed two views: its COSE head and this checkpoint).
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateEd25519, toHex } from "../attestation/index.js";
import { signingKey } from "../registry/keys.js";
import { SimulatedPeer } from "../registry/ledger/conformance.js";
import { defaultOrigin, signCheckpoint } from "../registry/ledger/checkpoint.js";
import { ed25519NoteSigner } from "../registry/ledger/note.js";
import { freshImei, waitFor } from "./support/registry-sim.js";
import { startFederation } from "./support/ledger-sim.js";

test("a member's checkpoint that contradicts its signed entries raises an alarm; a true one does not", async (t) => {
  const m = signingKey(generateEd25519().privateKey);
  const f = await startFederation({ names: ["A"], extraPeers: () => [{ publicKey: m.publicKey, name: "M" }] });
  t.after(() => f.close());
  const A = f.member("A");
  const peer = new SimulatedPeer({ broker: f.broker.url, key: m, federationKey: f.federationKey });
  await peer.connect();
  t.after(() => peer.close());
  await peer.append("stolen", freshImei());
  const hex = toHex(m.kid);
  const row = A.registry.ledger!.known(hex)!.row;
  await waitFor(() => A.registry.ledger!.db.logs.size(row.id) === 1, "A mirrors M's entry", 20_000);
  const signer = ed25519NoteSigner(defaultOrigin(hex), m.signer);
  await peer.publish("checkpoint", signCheckpoint({ origin: defaultOrigin(hex), size: 1, root: peer.tree.root() }, [signer]));
  await peer.publish("checkpoint", signCheckpoint({ origin: defaultOrigin(hex), size: 1, root: new Uint8Array(32).fill(0x5a) }, [signer]), true);
  await waitFor(() => A.registry.ledger!.db.alarms.list().some((a) => a.code === "E_LEDGER_ROOT" && toHex(a.logId) === hex), "A's alarm on M's contradicting checkpoint", 20_000);
  assert.equal(A.registry.ledger!.db.alarms.list().filter((a) => toHex(a.logId) === hex).length, 1, "one alarm: the true checkpoint raised none");
  assert.ok(A.log.events.some((e) => e.event === "ledger.alarm" && e.fields.code === "E_LEDGER_ROOT"));
});
