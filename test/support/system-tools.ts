// Tests that need a system tool (wasm2c, gcc, valgrind, mosquitto) call `needTool`.
// Absent tool: the test is skipped with a printed reason - unless REQUIRE_SYSTEM_TOOLS=1
// (set by .ci/run), where an absent tool fails the test. Nothing is skipped in CI.
import { spawnSync } from "node:child_process";
import type { TestContext } from "node:test";

export function hasTool(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;
}

/** Returns true when the test may go on; false after marking it skipped (never in CI). */
export function needTool(t: TestContext, ...names: string[]): boolean {
  const missing = names.filter((n) => !hasTool(n));
  if (missing.length === 0) return true;
  const why = `needs ${missing.join(", ")} (apt-get install ${missing.join(" ")}; .ci/run does this)`;
  if (process.env.REQUIRE_SYSTEM_TOOLS === "1") throw new Error(`REQUIRE_SYSTEM_TOOLS=1 but ${why}`);
  process.stdout.write(`# SKIP ${t.name}: ${why}\n`);
  t.skip(why);
  return false;
}
