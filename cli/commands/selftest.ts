// `antitheft selftest`: loads the release Trusted App through agent/trusted-app.ts and runs
// known-answer tests against it (FIPS 180-4, RFC 4231, RFC 8032 §7.1 TEST 1, and the
// rejection of a tampered signature). Prints a short report; exits 1 if any test fails.
import { parseArgs } from "node:util";
import { stat } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { Command } from "../command.js";
import { CliError } from "../command.js";
import { DEFAULT_TA_URL, TrustedApp } from "../../agent/trusted-app.js";

const usage = `Usage: antitheft selftest [--ta FILE]

Loads the Trusted App (default: the release build, build/ta.wasm) and runs known-answer tests
against it: SHA-512 (FIPS 180-4), HMAC-SHA-512 (RFC 4231), Ed25519 public key, signature and
verification (RFC 8032 §7.1 TEST 1), and the rejection of a tampered signature.
Exits 0 when every test passes, 1 otherwise.`;

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const unhex = (h: string) => new Uint8Array(Buffer.from(h, "hex"));
const ascii = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));

// RFC 8032 §7.1 TEST 1
const TEST1 = {
  seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
  pub: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
  sig: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
};

interface Kat {
  name: string;
  source: string;
  /** Returns what the TA computed, compared with `expected` as text. */
  run(ta: TrustedApp): string;
  expected: string;
}

const KATS: Kat[] = [
  {
    name: 'SHA-512("abc")',
    source: "FIPS 180-4",
    run: (ta) => hex(ta.sha512(ascii("abc"))),
    expected:
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
  },
  {
    name: "HMAC-SHA-512 test case 2",
    source: "RFC 4231 §4.3",
    run: (ta) => hex(ta.hmacSha512(ascii("Jefe"), ascii("what do ya want for nothing?"))),
    expected:
      "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
  },
  {
    name: "Ed25519 public key, TEST 1",
    source: "RFC 8032 §7.1",
    run: (ta) => hex(ta.ed25519Public(unhex(TEST1.seed))),
    expected: TEST1.pub,
  },
  {
    name: "Ed25519 signature, TEST 1",
    source: "RFC 8032 §7.1",
    run: (ta) => hex(ta.ed25519Sign(unhex(TEST1.seed), new Uint8Array(0))),
    expected: TEST1.sig,
  },
  {
    name: "Ed25519 verifies TEST 1",
    source: "RFC 8032 §5.1.7",
    run: (ta) => String(ta.ed25519Verify(unhex(TEST1.pub), unhex(TEST1.sig), new Uint8Array(0))),
    expected: "true",
  },
  {
    name: "Ed25519 rejects a tampered signature",
    source: "RFC 8032 §5.1.7",
    run: (ta) => {
      const sig = unhex(TEST1.sig);
      sig[40] ^= 0x01; // one bit of S
      return String(ta.ed25519Verify(unhex(TEST1.pub), sig, new Uint8Array(0)));
    },
    expected: "false",
  },
];

export const selftest: Command = {
  path: ["selftest"],
  summary: "load the Trusted App and run its known-answer self-test",
  usage,
  async run(argv: string[]): Promise<number> {
    let values: { ta?: string };
    try {
      ({ values } = parseArgs({ args: argv, options: { ta: { type: "string" } } }));
    } catch (e) {
      throw new CliError("E_USAGE", `${(e as Error).message}\n\n${usage}`, 2);
    }
    const path = values.ta ?? fileURLToPath(DEFAULT_TA_URL);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch {
      throw new CliError("E_NO_TA", `Trusted App not found at ${path}: run npm run build`);
    }
    let ta: TrustedApp;
    try {
      ta = await TrustedApp.load(path);
    } catch (e) {
      throw new CliError("E_BAD_TA", `${path} is not a loadable Trusted App: ${(e as Error).message}`);
    }
    const out = process.stdout;
    out.write(`Trusted App ${path}\n  ${size} bytes, I/O buffer ${ta.ioCap} bytes\n\nKnown-answer tests:\n`);
    const width = Math.max(...KATS.map((k) => k.name.length));
    const started = performance.now();
    let passed = 0;
    for (const kat of KATS) {
      let got: string;
      try {
        got = kat.run(ta);
      } catch (e) {
        got = `error: ${(e as Error).message}`;
        ta = await TrustedApp.load(path); // a failed call may leave the instance unusable
      }
      const ok = got === kat.expected;
      if (ok) passed++;
      out.write(`  ${ok ? "PASS" : "FAIL"}  ${kat.name.padEnd(width)}  ${kat.source}\n`);
      if (!ok) out.write(`        expected ${kat.expected}\n        got      ${got}\n`);
    }
    const ms = (performance.now() - started).toFixed(1);
    out.write(`\n${passed}/${KATS.length} known-answer tests passed (${ms} ms)\n`);
    return passed === KATS.length ? 0 : 1;
  },
};
