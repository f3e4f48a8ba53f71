import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CommandEnforcer, EnforcementError, SimulatedHandset, TAMPERED_MESSAGE, enforce, lockScreenText, mustLock,
  type EnforcementEvent,
} from "../agent/enforcement.js";

async function withTempDir(f: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "at-enf-"));
  try {
    await f(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("enforce: lock state above 0 or TAMPERED locks, otherwise unlocks", async () => {
  const events: EnforcementEvent[] = [];
  const h = new SimulatedHandset((e) => events.push(e));
  assert.equal(await enforce(h, { lock: 2, tampered: false, message: "Stolen phone", contact: "+44 20 7946 0000" }), "locked");
  assert.equal(h.locked, true);
  assert.equal(h.screen, "LOCKED\nStolen phone\nContact: +44 20 7946 0000");
  assert.equal(await enforce(h, { lock: 0, tampered: false, message: "", contact: "" }), "unlocked");
  assert.equal(h.locked, false);
  assert.equal(h.screen, "");
  // TAMPERED counts as locked whatever lock state is reported, and shows no (untrusted) message
  assert.equal(await enforce(h, { lock: 0, tampered: true, message: "evil", contact: "evil" }), "locked");
  assert.equal(h.screen, lockScreenText(TAMPERED_MESSAGE, ""));
  assert.equal(await enforce(h, { lock: 1, tampered: false, message: "", contact: "" }), "locked");
  assert.deepEqual(events.map((e) => e.action), ["lock", "unlock", "lock", "lock"]);
  assert.equal(mustLock({ lock: 0, tampered: false, message: "", contact: "" }), false);
});

test("SimulatedHandset: a message does not unlock; history is bounded; failures are typed", async () => {
  const h = new SimulatedHandset(undefined, 3);
  await h.lock("m", "c");
  await h.showMessage("hello", "");
  assert.equal(h.locked, true);
  assert.equal(h.screen, "LOCKED\nm\nContact: c", "a locked screen keeps its lock text");
  await h.unlock();
  await h.showMessage("hello", "123");
  assert.equal(h.screen, "hello\nContact: 123");
  assert.equal(h.history.length, 3);
  h.failWith("display driver crashed");
  await assert.rejects(h.lock("x", ""), (e: unknown) => e instanceof EnforcementError && e.code === "E_ENFORCE_FAILED");
  assert.equal(h.locked, false, "a failed action changes nothing");
});

test("CommandEnforcer: argument arrays get {message}/{contact}, shell strings get environment variables only", () =>
  withTempDir(async (dir) => {
    const out = join(dir, "out.txt");
    const e = new CommandEnforcer({
      lock: ["/bin/sh", "-c", 'printf "%s|%s\\n" "$1" "$2" >> "$0"', out, "lock:{message}", "{contact}"],
      unlock: `printf "unlock|%s\\n" "$ANTITHEFT_ACTION" >> '${out}'`,
      showMessage: `printf "msg|%s|%s\\n" "$ANTITHEFT_MESSAGE" "$ANTITHEFT_CONTACT" >> '${out}'`,
    });
    const pwned = join(dir, "pwned");
    // A hostile message: shell syntax must never run, in either form.
    const evil = `$(touch ${pwned}); \`touch ${pwned}\` '"; touch ${pwned}; "'`;
    await e.lock(evil, "+1 555 0100");
    await e.showMessage(evil, "x");
    await e.unlock();
    const lines = (await readFile(out, "utf8")).trimEnd().split("\n");
    assert.deepEqual(lines, [`lock:${evil}|+1 555 0100`, `msg|${evil}|x`, "unlock|unlock"]);
    await assert.rejects(stat(pwned), "the message was executed as shell syntax");
  }));

test("CommandEnforcer: a failing or hanging command is E_ENFORCE_FAILED; no showMessage is a no-op", async () => {
  const failing = new CommandEnforcer({ lock: "exit 3", unlock: ["/bin/false"] });
  await assert.rejects(failing.lock("m", "c"), (e: unknown) => e instanceof EnforcementError && e.code === "E_ENFORCE_FAILED");
  await assert.rejects(failing.unlock(), (e: unknown) => e instanceof EnforcementError && e.code === "E_ENFORCE_FAILED");
  await failing.showMessage("m", "c");
  const hanging = new CommandEnforcer({ lock: "sleep 5", unlock: "true", timeoutMs: 50 });
  await assert.rejects(hanging.lock("m", "c"), (e: unknown) => e instanceof EnforcementError && e.code === "E_ENFORCE_FAILED");
});

test("CommandEnforcer: the configuration is validated (E_ENFORCER_CONFIG)", () =>
  withTempDir(async (dir) => {
    const bad: unknown[] = [
      null,
      [],
      "lock",
      {},
      { lock: "x" },
      { lock: "x", unlock: "" },
      { lock: [], unlock: "y" },
      { lock: [1], unlock: "y" },
      { lock: "x", unlock: "y", timeoutMs: -1 },
      { lock: "x", unlock: "y", extra: 1 },
    ];
    for (const c of bad) assert.throws(() => new CommandEnforcer(c), (e: unknown) => e instanceof EnforcementError && e.code === "E_ENFORCER_CONFIG", JSON.stringify(c));
    const file = join(dir, "enf.json");
    await writeFile(file, "{ not json");
    await assert.rejects(CommandEnforcer.fromFile(file), (e: unknown) => e instanceof EnforcementError && e.code === "E_ENFORCER_CONFIG");
    await assert.rejects(CommandEnforcer.fromFile(join(dir, "missing.json")), (e: unknown) => e instanceof EnforcementError && e.code === "E_ENFORCER_CONFIG");
    await writeFile(file, JSON.stringify({ lock: ["true"], unlock: "true" }));
    const ok = await CommandEnforcer.fromFile(file);
    await ok.lock("m", "c");
  }));
