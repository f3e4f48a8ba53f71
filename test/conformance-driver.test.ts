// A third party's handsets plug in through a driver module (`antitheft conformance --driver`):
// the suite must run its scenarios through the driver alone, pass a working one, fail a broken
// one naming the violated requirement, and refuse a module that is not a driver.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI } from "./support/e2e.js";

const dist = new URL("../", import.meta.url).href; // dist/

function cli(args: readonly string[]): Promise<{ status: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => void (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => void (err += d.toString()));
    p.on("exit", (status) => resolve({ status, out, err }));
  });
}

const driverSource = (broken: boolean) => `
import { VirtualHandsetDriver } from "${dist}simulator/handset.js";
import { liteTransport } from "${dist}simulator/mqtt-lite.js";
import { ignoresLock } from "${dist}simulator/conformance/faulty/handsets.js";
export function createDriver(ctx) {
  const d = new VirtualHandsetDriver({ module: ctx.module, transport: liteTransport(ctx.brokerUrl), mqttVersion: ctx.mqttVersion, measurement: ctx.measurement }, "ACME test phones");
  return ${broken ? "ignoresLock(d)" : "d"};
}
`;

test("antitheft conformance --driver: a working driver passes, a broken one fails, a non-driver is refused", async () => {
  const dir = await mkdtemp(join(tmpdir(), "at-driver-"));
  try {
    await writeFile(join(dir, "good.mjs"), driverSource(false));
    await writeFile(join(dir, "broken.mjs"), driverSource(true));
    await writeFile(join(dir, "not-a-driver.mjs"), "export const x = 1;\n");
    const good = await cli(["conformance", "--driver", join(dir, "good.mjs"), "--scenario", "theft-lock,reboot-locked,sealed-state"]);
    assert.equal(good.status, 0, good.out + good.err);
    assert.match(good.out, /handsets: ACME test phones/);
    assert.match(good.out, /3 scenarios: 3 pass/);
    const broken = await cli(["conformance", "--driver", join(dir, "broken.mjs"), "--scenario", "theft-lock", "--timeout", "2000"]);
    assert.equal(broken.status, 1, broken.out + broken.err);
    assert.match(broken.out, /theft-lock\s+FAIL[\s\S]*REQ-LK-01/);
    const bad = await cli(["conformance", "--driver", join(dir, "not-a-driver.mjs"), "--scenario", "theft-lock"]);
    assert.equal(bad.status, 1);
    assert.match(bad.err, /^error E_DRIVER: .*does not export createDriver/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
