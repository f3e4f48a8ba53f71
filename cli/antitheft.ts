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
import { ownerCommands } from "./commands/owner.js";
import { authorityCommands } from "./commands/authority.js";
import { demo } from "./commands/demo.js";
import { sim } from "./commands/sim.js";
import { conformance } from "./commands/conformance.js";
import { auditCommand } from "./commands/audit.js";
import { ledgerCommands } from "./commands/ledger.js";
import { witnessCommands } from "./commands/witness.js";
import { verifyFlag } from "./commands/verify-flag.js";
import { pkiCommands } from "./commands/pki.js";

const commands: Command[] = [
  selftest,
  oemKeygen, factoryProvision, ...deviceCommands, verify, agent,
  ...registryCommands, ...ownerCommands, ...authorityCommands,
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

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    process.stdout.write(topHelp());
    return argv.length === 0 ? 2 : 0;
  }
  const found = resolve(argv);
  if (!found) {
    process.stderr.write(`error E_USAGE: unknown command "${argv.join(" ")}"\n\n${topHelp()}`);
    return 2;
  }
  if (found.rest.includes("--help") || found.rest.includes("-h")) {
    process.stdout.write(found.command.usage.endsWith("\n") ? found.command.usage : found.command.usage + "\n");
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
