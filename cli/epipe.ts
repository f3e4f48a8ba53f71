// A reader that goes away (`antitheft --help | head -1`) closes the pipe: the next write fails
// with EPIPE. That is not a failure of the command: exit quietly instead of printing a stack trace.

function quietOnEpipe(stream: NodeJS.WriteStream): void {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(typeof process.exitCode === "number" ? process.exitCode : 0);
    throw e;
  });
}

/** Installs the handler on stdout and stderr (once, at CLI start-up). */
export function exitQuietlyOnEpipe(): void {
  quietOnEpipe(process.stdout);
  quietOnEpipe(process.stderr);
}
