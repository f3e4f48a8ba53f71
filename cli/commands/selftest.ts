// `antitheft selftest`: loads the release Trusted App and exercises it (placeholder until
// the TA crypto core lands; then it runs known-answer tests and a sign/verify round trip).
import type { Command } from "../command.js";
import { CliError } from "../command.js";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

export const selftest: Command = {
  path: ["selftest"],
  summary: "load the Trusted App and run its known-answer self-test",
  usage: "Usage: antitheft selftest\n\nLoads build/ta.wasm and runs known-answer tests against it.",
  async run(): Promise<number> {
    const path = fileURLToPath(new URL("../../../build/ta.wasm", import.meta.url));
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch {
      throw new CliError("E_NO_TA", `release TA not found at ${path}: run npm run build`);
    }
    const { instance } = await WebAssembly.instantiate(new Uint8Array(bytes), { env: { abort() { throw new Error("TA abort"); } } });
    const cap = (instance.exports.io_cap as () => number)();
    process.stdout.write(`TA loaded: ${bytes.length} bytes, I/O buffer ${cap} bytes\n`);
    return 0;
  },
};
