// `antitheft demo` (npm start): the whole remote-lock story in one process, no external services.
import type { Command } from "../command.js";
import { CliError } from "../command.js";
import { loadTaModule, parseFlags } from "./device-common.js";

const usage = `Usage: antitheft demo [--verbose] [--serve [--port N]]

Runs the remote-lock story end to end in this process, with no external services: an embedded
MQTT broker (aedes), a registry with its SQLite database in a temp folder, an OEM key and a
registry key, three factory-provisioned handsets whose agents each run their own Trusted App.
The handsets enrol; an owner claims one and reports it stolen; it locks showing her message;
the network status turns BLACKLISTED; she reports it found; it unlocks; WHITELISTED again.
Prints a timeline with the elapsed milliseconds of each step and a summary, removes the temp
folder, and exits 0 (1 with a reason if any step fails).

  --verbose   also print every log event of the registry and the agents
  --serve     after the story, keep the broker, the registry, its owner portal and the handsets
              running (until Ctrl-C): claim a handset with a passkey and report it stolen
  --port      the registry's HTTP port, hence the portal's (default: any free port)`;

export const demo: Command = {
  path: ["demo"],
  summary: "run the remote-lock demo: broker, registry, 3 handsets, theft and recovery",
  usage,
  async run(argv) {
    const v = parseFlags(argv, { verbose: { type: "boolean" }, serve: { type: "boolean" }, port: { type: "string" } }, usage);
    const port = v.port === undefined ? 0 : Number(v.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError("E_USAGE", `--port must be 0..65535, got "${v.port}"`, 2);
    const serveUntil = v.serve
      ? new Promise<void>((resolve) => {
          process.once("SIGINT", () => resolve());
          process.once("SIGTERM", () => resolve());
        })
      : undefined;
    // `antitheft demo | head`: once the reader goes away, the demo runs on silently and still
    // cleans up after itself.
    let readerGone = false;
    process.stdout.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code !== "EPIPE") throw e;
      readerGone = true;
    });
    const write = (text: string): void => {
      if (!readerGone) process.stdout.write(text);
    };
    const module = await loadTaModule();
    // Loaded here: MQTT, aedes and SQLite are only for this command.
    const { runDemo } = await import("../../simulator/demo.js");
    try {
      await runDemo({ module, write, verbose: v.verbose === true, port, ...(serveUntil ? { serveUntil } : {}) });
    } catch (e) {
      const err = e as { code?: unknown; message?: unknown };
      throw new CliError(typeof err.code === "string" ? err.code : "E_DEMO", `the demo failed: ${String(err.message ?? e)}`);
    }
    return 0;
  },
};
