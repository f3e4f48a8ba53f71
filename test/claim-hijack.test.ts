// Ownership abuse through the broker (PROTOCOL.md §6.2, claim codes and purposes): anyone who can
// publish on a handset's challenge topic used to get a valid claim proof for an owner key of
// their choosing, claim an unclaimed phone, report it stolen and hold it to ransom. The real
// agent and the real TA answer here; the attacker is a plain MQTT client on the same broker.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "mqtt";
import { generateEd25519 } from "../attestation/index.js";
import { Agent } from "../agent/agent.js";
import { DeviceFolder } from "../agent/device-folder.js";
import { SimulatedHandset } from "../agent/enforcement.js";
import { provisionDevice } from "../agent/factory.js";
import { mqttTransport } from "../agent/mqtt-link.js";
import { decodeAttestation, deviceTopic, encodeChallenge } from "../protocol/messages.js";
import { claimNonce } from "../protocol/claim-code.js";
import { DeviceSession } from "../agent/session.js";
import { buildRequest } from "../registry/request-codec.js";
import { signingKey } from "../registry/keys.js";
import { OEM } from "./support/attestation-fixture.js";
import { taModule } from "./support/agent-harness.js";
import { freshImei, postCose, startHarness, waitFor } from "./support/registry-sim.js";

test("claim hijack: a token obtained by challenging the handset over the broker does not claim it; codes are single use and expire", async (t) => {
  let offset = 0; // the registry's clock, moved forward to expire a claim code
  const now = () => Date.now() + offset;
  const h = await startHarness({ clock: { now } });
  const post = (key: ReturnType<typeof signingKey>, r: Parameters<typeof buildRequest>[1]) =>
    postCose(`${h.url}/antitheft/v1/requests`, buildRequest(key.signer, { ts: Math.floor(now() / 1000), ...r }, h.registryKey.kid));
  const cleanups: (() => unknown)[] = [];
  t.after(async () => {
    for (const c of cleanups.reverse()) await c();
    await h.close();
  });
  const folder = DeviceFolder.inMemory();
  const imei = freshImei();
  const info = await provisionDevice(folder, taModule(), { imei, oem: OEM, registryKeys: [h.registryKey.publicKey], model: "Hijack Phone" });
  const agent = await Agent.start({
    folder, module: taModule(), transport: mqttTransport(h.broker.url), enforcer: new SimulatedHandset(), heartbeatS: 0, backoff: { baseMs: 20, capMs: 200 },
  });
  cleanups.push(() => agent.stop(false));
  await waitFor(() => h.registry.store.devices.get(info.did), "enrolment", 20_000);

  // The attacker: an ordinary broker client with its own owner key, and a claim code the
  // registry rightly issues to it (anyone may ask for one).
  const thief = signingKey(generateEd25519().privateKey);
  const thiefCode = (await post(thief, { type: "claim-code", imei, key: thief.coseKey })).body.code as string;
  assert.match(thiefCode, /^[0-9A-Z]{5}-[0-9A-Z]{5}$/);
  const mq = connect(h.broker.url, { clientId: "attacker", protocolVersion: 4 });
  cleanups.push(() => mq.end(true));
  await new Promise<void>((r) => mq.once("connect", () => r()));
  const tokens: Uint8Array[] = [];
  mq.on("message", (_topic, payload) => {
    try {
      tokens.push(decodeAttestation(new Uint8Array(payload)).token);
    } catch { /* not an attestation */ }
  });
  await new Promise<void>((r, j) => mq.subscribe(deviceTopic(info.did, "attestation"), { qos: 1 }, (e) => (e ? j(e) : r())));
  mq.publish(deviceTopic(info.did, "challenge"), Buffer.from(encodeChallenge({ nonce: claimNonce(thiefCode) })), { qos: 1 });
  const proof = await waitFor(() => tokens[0], "the handset's answer to the attacker's challenge", 20_000);

  const r = await post(thief, { type: "claim", imei, key: thief.coseKey, code: thiefCode, proof });
  assert.equal(r.status, 403, `the hijacked claim must be refused: ${JSON.stringify(r.body)}`);
  assert.equal(r.body.code, "E_BAD_PROOF");
  assert.match(r.body.message, /E_PURPOSE/);
  // The old claim shape (a proof without a code) is not a claim any more.
  const old = await post(thief, { type: "claim", imei, key: thief.coseKey, proof });
  assert.equal(old.body.code, "E_BAD_REQUEST");
  assert.equal(h.registry.store.owners.current(info.did), undefined, "nobody owns the phone");

  // The genuine owner: a fresh code, typed on the handset (a local action while the agent runs).
  const owner = signingKey(generateEd25519().privateKey);
  const code = (await post(owner, { type: "claim-code", imei, key: owner.coseKey })).body.code as string;
  const handset = await DeviceSession.boot(folder, taModule(), { commit: false });
  const ownerProof = handset.claimProof(code);
  // The code is bound to the key it was issued to: the thief cannot use it with the owner's proof.
  const stolenCode = await post(thief, { type: "claim", imei, key: thief.coseKey, code, proof: ownerProof });
  assert.equal(stolenCode.body.code, "E_CLAIM_CODE_UNKNOWN");
  const ok = await post(owner, { type: "claim", imei, key: owner.coseKey, code, proof: ownerProof });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.deepEqual([...h.registry.store.owners.current(info.did)!.kid], [...owner.kid]);
  // Replayed (a new request id, the same code): used.
  const replay = await post(owner, { type: "claim", imei, key: owner.coseKey, code, proof: ownerProof });
  assert.equal(replay.body.code, "E_CLAIM_CODE_USED");

  // Expiry: a code issued for a second phone, the clock moved 11 minutes on.
  const folder2 = DeviceFolder.inMemory();
  const info3 = await provisionDevice(folder2, taModule(), { imei: freshImei(), oem: OEM, registryKeys: [h.registryKey.publicKey], model: "Second Phone" });
  const agent2 = await Agent.start({
    folder: folder2, module: taModule(), transport: mqttTransport(h.broker.url), enforcer: new SimulatedHandset(), heartbeatS: 0, backoff: { baseMs: 20, capMs: 200 },
  });
  cleanups.push(() => agent2.stop(false));
  await waitFor(() => h.registry.store.devices.get(info3.did), "enrolment of the second phone", 20_000);
  const late = (await post(owner, { type: "claim-code", imei: info3.imei, key: owner.coseKey })).body.code as string;
  const lateProof = (await DeviceSession.boot(folder2, taModule(), { commit: false })).claimProof(late);
  offset += 11 * 60_000;
  const expired = await post(owner, { type: "claim", imei: info3.imei, key: owner.coseKey, code: late, proof: lateProof });
  assert.equal(expired.body.code, "E_CLAIM_CODE_EXPIRED");
  assert.equal(h.registry.store.owners.current(info3.did), undefined);
});
