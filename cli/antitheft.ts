#!/usr/bin/env node
// `antitheft`: the one command-line entry point (package.json "bin").
// Each subcommand lives in cli/commands/<name>.ts; this file only dispatches.
import type { Command } from "./command.js";
import { CliError } from "./command.js";
import { selftest } from "./commands/selftest.js";
import { oemKeygen } from "./commands/oem.js";
import { factoryProvision } from "./commands/factory.js";
import { deviceCommands } from "./commands/device.js";
import { verify } from "./commands/verify.js";
import { agent } from "./commands/agent.js";
import { registryCommands } from "./commands/registry.js";
import { registryBackup, registryRestore } from "./commands/registry-backup.js";
import { ownerCommands } from "./commands/owner.js";
import { authorityCommands } from "./commands/authority.js";
import { demo } from "./commands/demo.js";
import { sim } from "./commands/sim.js";
import { conformance } from "./commands/conformance.js";
import { auditCommand } from "./commands/audit.js";
import { ledgerCommands } from "./commands/ledger.js";
import { witnessCommands } from "./commands/witness.js";
import { verifyFlag } from "./commands/verify-flag.js";
import { exitQuietlyOnEpipe } from "./epipe.js";
import { versionLine } from "./version.js";

exitQuietlyOnEpipe();
import { pkiCommands } from "./commands/pki.js";

const commands: Command[] = [
  selftest,
  oemKeygen, factoryProvision, ...deviceCommands, verify, agent,
  ...registryCommands, registryBackup, registryRestore, ...ownerCommands, ...authorityCommands,
  demo,
  auditCommand, ...ledgerCommands, ...witnessCommands, verifyFlag,
  sim, conformance,
  ...pkiCommands,
];

function topHelp(): string {
  const width = Math.max(...commands.map((c) => c.path.join(" ").length));
  const lines = commands.map((c) => `  ${c.path.join(" ").padEnd(width)}  ${c.summary}`);
  return [
    "antitheft - handset anti-theft Trusted App, agent, registry and tools",
    "",
    "Usage: antitheft <command> [options]     (antitheft <command> --help for its options)",
    "       antitheft help <command>           antitheft --version",
    "",
    "Commands:",
    ...lines,
    "",
  ].join("\n");
}

/** Finds the command whose path is the longest prefix of argv. */
function resolve(argv: string[]): { command: Command; rest: string[] } | undefined {
  let best: Command | undefined;
  for (const c of commands) {
    if (c.path.every((w, i) => argv[i] === w) && (!best || c.path.length > best.path.length)) best = c;
  }
  return best && { command: best, rest: argv.slice(best.path.length) };
}

/** The subcommands of a group ("owner" -> owner claim, owner status, ...). */
function groupMembers(word: string): Command[] {
  return commands.filter((c) => c.path.length > 1 && c.path[0] === word);
}

function groupHelp(word: string, members: Command[]): string {
  const width = Math.max(...members.map((c) => c.path.join(" ").length));
  return [
    `Usage: antitheft ${word} <subcommand> [options]     (antitheft ${word} <subcommand> --help for its options)`,
    "",
    "Subcommands:",
    ...members.map((c) => `  ${c.path.join(" ").padEnd(width)}  ${c.summary}`),
    "",
  ].join("\n");
}

const withNewline = (s: string): string => (s.endsWith("\n") ? s : s + "\n");

/** Help for the words after `help` (or before `--help`): a command's usage, a group's list, or the top. */
function helpFor(words: string[]): { text: string; found: boolean } {
  if (words.length === 0) return { text: topHelp(), found: true };
  const exact = commands.find((c) => c.path.length === words.length && c.path.every((w, i) => words[i] === w));
  const members = words.length === 1 ? groupMembers(words[0]!) : [];
  if (exact) {
    // "registry" is a command and a group ("registry keygen"): its usage, then its subcommands.
    return { text: withNewline(exact.usage) + (members.length ? "\n" + groupHelp(words[0]!, members) : ""), found: true };
  }
  if (members.length) return { text: groupHelp(words[0]!, members), found: true };
  return { text: `error E_USAGE: no help for "${words.join(" ")}": unknown command\n\n${topHelp()}`, found: false };
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h") {
    process.stdout.write(topHelp());
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === "--version" || argv[0] === "-V" || argv[0] === "version") {
    process.stdout.write(versionLine() + "\n");
    return 0;
  }
  if (argv[0] === "help") {
    const h = helpFor(argv.slice(1).filter((w) => w !== "--help" && w !== "-h"));
    (h.found ? process.stdout : process.stderr).write(h.text);
    return h.found ? 0 : 2;
  }
  const found = resolve(argv);
  if (!found) {
    const members = groupMembers(argv[0]!);
    if (members.length) {
      // "antitheft owner --help" (help, exit 0) or "antitheft owner" / "antitheft owner nope" (exit 2).
      const asked = argv.length === 2 && (argv[1] === "--help" || argv[1] === "-h");
      if (asked) {
        process.stdout.write(groupHelp(argv[0]!, members));
        return 0;
      }
      const what = argv.length > 1 ? `unknown subcommand "${argv.join(" ")}"` : `"${argv[0]}" needs a subcommand`;
      process.stderr.write(`error E_USAGE: ${what}\n\n${groupHelp(argv[0]!, members)}`);
      return 2;
    }
    process.stderr.write(`error E_USAGE: unknown command "${argv.join(" ")}"\n\n${topHelp()}`);
    return 2;
  }
  if (found.rest.includes("--help") || found.rest.includes("-h")) {
    process.stdout.write(helpFor([...found.command.path]).text);
    return 0;
  }
  try {
    return await found.command.run(found.rest);
  } catch (e) {
    if (e instanceof CliError) {
      process.stderr.write(`error ${e.code}: ${e.message}\n`);
      return e.exitCode;
    }
    const err = e as { code?: unknown; message?: unknown };
    const code = typeof err.code === "string" ? err.code : "E_INTERNAL";
    process.stderr.write(`error ${code}: ${String(err.message ?? e)}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
