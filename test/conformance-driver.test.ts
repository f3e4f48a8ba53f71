// A third party's handsets plug in through a driver module (`antitheft conformance --driver`):
// the suite must run its scenarios through the driver alone, pass a working one, fail a broken
// one naming the violated requirement, and refuse a module that is not a driver.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCliAsync } from "./support/e2e.js";

const dist = new URL("../", import.meta.url).href; // dist/

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
    const good = await runCliAsync(["conformance", "--driver", join(dir, "good.mjs"), "--scenario", "theft-lock,reboot-locked,sealed-state"]);
    assert.equal(good.status, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /handsets: ACME test phones/);
    assert.match(good.stdout, /3 scenarios: 3 pass/);
    const broken = await runCliAsync(["conformance", "--driver", join(dir, "broken.mjs"), "--scenario", "theft-lock", "--timeout", "2000"]);
    assert.equal(broken.status, 1, broken.stdout + broken.stderr);
    assert.match(broken.stdout, /theft-lock\s+FAIL[\s\S]*REQ-LK-01/);
    const bad = await runCliAsync(["conformance", "--driver", join(dir, "not-a-driver.mjs"), "--scenario", "theft-lock"]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^error E_DRIVER: .*does not export createDriver/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
