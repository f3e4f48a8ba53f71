// The shape every `antitheft` subcommand takes. A command parses its own flags
// (node:util parseArgs), prints to stdout, reports failures on stderr with a stable
// code, and returns the process exit code.

export interface Command {
  /** Words that select the command, e.g. ["oem", "keygen"]. */
  readonly path: readonly string[];
  /** One line for the top-level help. */
  readonly summary: string;
  /** Full usage text printed by `--help`. */
  readonly usage: string;
  run(argv: string[]): Promise<number>;
}

/** A failure the CLI reports as `error <code>: <message>` and exits non-zero. */
export class CliError extends Error {
  constructor(readonly code: string, message: string, readonly exitCode = 1) {
    super(message);
    this.name = "CliError";
  }
}
