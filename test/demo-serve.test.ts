// `antitheft demo --serve`, run as a newcomer runs it: after the story it prints the owner
// portal's URL and keeps the registry and the demo's handsets running; an owner with a passkey
// (a software authenticator) claims a handset whose claim code is typed with the device CLI
// (`device claim-proof --registry`, the handset handing its proof in), reports it stolen and sees
// its lock confirmed; Ctrl-C (SIGINT) stops the demo, which exits 0 and removes its temp folder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { CLI, waitFor } from "./support/e2e.js";
import { PortalOwner } from "./support/portal-client.js";

test("antitheft demo --serve: the portal URL, a passkey claim with the device CLI's proof, stolen -> locked; SIGINT stops it cleanly", async (t) => {
  const child = spawn(process.execPath, [CLI, "demo", "--serve"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (c) => (out += c));
  child.stderr.on("data", (c) => (out += c));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  t.after(() => void child.kill("SIGKILL"));

  const portal = await waitFor(() => /^The owner portal is running at (http:\/\/localhost:\d+\/portal\/)$/m.exec(out)?.[1], `the portal URL in:\n${out}`, 60_000, 50);
  assert.match(out, /owner portal \(passkeys\) and public IMEI check: http:\/\/localhost:\d+\/portal\//, "the URL is on the timeline too");
  const origin = new URL(portal).origin;
  const base = `http://127.0.0.1:${new URL(portal).port}`;
  assert.equal((await fetch(`${base}/portal/`)).status, 200);

  // The story is over, and the handsets the owner did not claim are still there to claim.
  const m = /claim (handset-1) \(IMEI (\d{15})\)/.exec(out);
  assert.ok(m, out);
  const dir = new RegExp(`--dir (\\S+${m[1]}) --code CODE --registry ${origin}`).exec(out)?.[1];
  assert.ok(dir && existsSync(dir), out);
  const imei = m[2]!;

  const owner = new PortalOwner(base, origin, "ES256");
  assert.equal((await owner.signUp("newcomer")).status, 200);
  const cc = await owner.request({ type: "claim-code", imei });
  assert.equal(cc.status, 200, JSON.stringify(cc.body));
  // The user types the code on the handset: the device CLI makes the proof and hands it in.
  const typed = spawnSync(process.execPath, [CLI, "device", "claim-proof", "--dir", dir, "--code", cc.body.code.toLowerCase(), "--registry", origin], { encoding: "utf8", timeout: 30_000 });
  assert.equal(typed.status, 0, typed.stderr);
  assert.match(typed.stdout, /^[0-9a-f]+\n$/);
  assert.equal((await owner.call(`/portal/api/claim-status?code=${cc.body.code}`)).body.state, "proof-received");
  const claim = await owner.request({ type: "claim", imei, code: cc.body.code });
  assert.equal(claim.status, 200, JSON.stringify(claim.body));
  const stolen = await owner.request({ type: "report-stolen", imei, message: "Demo phone: please return it", contact: "+44 20 7946 0000" });
  assert.equal(stolen.status, 200, JSON.stringify(stolen.body));
  await waitFor(async () => {
    const phones = (await owner.call("/portal/api/phones")).body.phones;
    return phones[0]?.devices[0]?.lockState === 2 && phones[0].devices[0].timeline[0]?.status === "SUCCEEDED";
  }, "the demo handset's lock confirmed at the registry", 20_000, 100);

  child.kill("SIGINT");
  assert.equal(await exited, 0, out);
  assert.match(out, /stopping\n/);
  assert.ok(!existsSync(dir), "the temp folder is removed");
});
