// `antitheft agent` as a process: boots a provisioned folder, enforces, connects to the embedded
// broker, answers a challenge, and stops cleanly on SIGTERM (retained status "offline").
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DeviceFolder } from "../agent/device-folder.js";
import { decodeAttestation, decodeHello, deviceTopic, encodeChallenge } from "../protocol/messages.js";
import { makeKeys, Peer, provisionTestDevice, startBroker } from "./support/agent-harness.js";

const cli = fileURLToPath(new URL("../cli/antitheft.js", import.meta.url));

test("antitheft agent: connects, answers, runs the configured enforcer, exits 0 on SIGTERM with status offline", async () => {
  const dir = await mkdtemp(join(tmpdir(), "at-agent-cli-"));
  const broker = await startBroker();
  const peer = await Peer.connect(broker.url);
  try {
    const device = join(dir, "phone");
    const dev = await provisionTestDevice(makeKeys(), "490154203237518", DeviceFolder.at(device));
    const did = dev.info.did;
    const marks = join(dir, "enforced.txt");
    const config = join(dir, "enforcer.json");
    await writeFile(config, JSON.stringify({ lock: `echo lock >> '${marks}'`, unlock: ["/bin/sh", "-c", `echo unlock >> '${marks}'`] }));
    const proc = spawn(process.execPath, [cli, "agent", "--dir", device, "--broker", broker.url, "--heartbeat", "0", "--enforcer-config", config, "--measurement", "ab".repeat(32), "--log", "json"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d) => (stdout += d));
    proc.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));

    const hello = decodeHello((await peer.waitFor((m) => m.topic === deviceTopic(did, "hello"), 15_000, "hello")).payload);
    assert.equal(hello.agent?.startsWith("antitheft-agent/"), true);
    const { readFile } = await import("node:fs/promises");
    assert.equal((await readFile(marks, "utf8")).trim(), "unlock", "the enforcer ran (unlocked state) before connecting");
    await peer.publish(deviceTopic(did, "challenge"), encodeChallenge({ nonce: new Uint8Array(32).fill(3) }));
    const att = await peer.waitFor((m) => m.topic === deviceTopic(did, "attestation"), 15_000, "attestation");
    assert.ok(decodeAttestation(att.payload).token.length > 100);

    proc.kill("SIGTERM");
    assert.equal(await exited, 0, stderr);
    assert.equal(stderr, "", "everything goes to one stream (stdout)");
    const lines = stdout.trim().split("\n").map((l) => JSON.parse(l) as { event: string; did?: string });
    assert.ok(lines.some((l) => l.event === "agent.running" && l.did === did), "start-up is an event");
    assert.ok(lines.some((l) => l.event === "agent.connected"), "JSON-line logs on stdout");
    assert.equal(lines.at(-1)?.event, "agent.stopped");
    await peer.waitFor((m) => m.topic === deviceTopic(did, "status") && Buffer.from(m.payload).toString() === "offline");
    const late = await Peer.connect(broker.url, [deviceTopic(did, "status")]);
    const off = await late.waitFor(() => true);
    await late.close();
    assert.equal(Buffer.from(off.payload).toString(), "offline");
    assert.equal(off.retain, true, "a newcomer sees the retained offline status");
  } finally {
    await peer.close();
    await broker.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("antitheft agent: usage errors exit 2", async () => {
  const { spawnSync } = await import("node:child_process");
  for (const args of [["agent"], ["agent", "--dir", "x"], ["agent", "--dir", "x", "--broker", "nope"], ["agent", "--dir", "x", "--broker", "mqtt://h:1", "--mqtt-version", "3"]]) {
    const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /error E_USAGE/);
  }
});
