// The CLI's help, version and closed-pipe behaviour, as an operator meets them: every group has
// its help (`antitheft owner --help`), `antitheft help <group> <sub>` prints that subcommand's
// usage (not the global help), `--version` names the version and commit, and a reader that
// closes the pipe early (`antitheft --help | head -1`) makes the command exit quietly.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const cli = fileURLToPath(new URL("../cli/antitheft.js", import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
const GROUPS = ["owner", "oem", "device", "factory", "authority", "registry", "ledger", "witness"];

test("antitheft <group> --help lists the group's subcommands for every group (exit 0)", () => {
  const top = run("--help").stdout;
  for (const g of GROUPS) {
    const r = run(g, "--help");
    assert.equal(r.status, 0, `${g} --help: ${r.stderr}`);
    assert.equal(r.stderr, "", g);
    // Every subcommand the top-level help lists for the group appears in the group's help.
    const subs = [...top.matchAll(new RegExp(`^  (${g} [a-z-]+) `, "gm"))].map((m) => m[1]!);
    assert.ok(subs.length > 0, `the top help lists subcommands of ${g}`);
    for (const s of subs) assert.match(r.stdout, new RegExp(`^  ${s} `, "m"), `${g} --help lists ${s}`);
  }
});

test("a group without a subcommand, or with an unknown one, is a usage error (exit 2) showing the group's help", () => {
  const bare = run("owner");
  assert.equal(bare.status, 2);
  assert.match(bare.stderr, /error E_USAGE: "owner" needs a subcommand/);
  assert.match(bare.stderr, /owner claim-code/);
  const unknown = run("owner", "steal");
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown subcommand "owner steal"/);
});

test("antitheft help <group> <sub> prints that subcommand's usage, the same as <group> <sub> --help", () => {
  for (const words of [["owner", "claim"], ["authority", "flag"], ["device", "status"], ["registry"], ["conformance"]]) {
    const h = run("help", ...words);
    assert.equal(h.status, 0, words.join(" "));
    assert.match(h.stdout, new RegExp(`^Usage: antitheft ${words.join(" ")}`), words.join(" "));
    assert.doesNotMatch(h.stdout, /^Commands:/m, "not the global help");
    assert.equal(h.stdout, run(...words, "--help").stdout, words.join(" "));
  }
  assert.match(run("help", "owner").stdout, /owner report-stolen/);
  const none = run("help", "nothing", "here");
  assert.equal(none.status, 2);
  assert.match(none.stderr, /error E_USAGE: no help for "nothing here"/);
});

test("antitheft --version prints the package version (and the git commit in a checkout)", () => {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  const r = run("--version");
  assert.equal(r.status, 0);
  assert.match(r.stdout, new RegExp(`^antitheft ${pkg.version.replaceAll(".", "\\.")}( \\(commit [0-9a-f]{40}\\))?\\n$`));
});

// Without the handler in cli/epipe.ts each of these dies with "Unhandled 'error' event ... write
// EPIPE" and a stack trace on stderr, exit 1 (checked when the handler was written).
test("every command exits quietly when its stdout is closed before it writes (EPIPE)", async () => {
  for (const args of [["--help"], ["owner", "--help"], ["help", "owner", "claim"], ["--version"], ["conformance", "--list"], ["registry", "--help"]]) {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy(); // the reader goes away before the command writes anything
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    assert.equal(stderr, "", `${args.join(" ")} wrote to stderr`);
    assert.equal(code, 0, args.join(" "));
  }
});
