// A long-running command's flags from a JSON file (`--config FILE`): {"flag-name": value, ...}
// with the names of the command line without "--" (e.g. {"broker": "mqtt://127.0.0.1:1883",
// "oem-pub": ["oem.pub"], "mqtt-version": 5}). A flag given on the command line overrides the
// file's (a repeatable flag given on the command line replaces the file's list). Paths in the
// file are taken as they are, relative to the working directory, like the command line's.
// Every mistake is E_USAGE (exit 2) naming the file and the key.
import { readFileSync } from "node:fs";
import type { ParseArgsConfig } from "node:util";
import { CliError } from "./command.js";

type Options = NonNullable<ParseArgsConfig["options"]>;
type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

function bad(path: string, what: string): CliError {
  return new CliError("E_USAGE", `--config ${path}: ${what}`, 2);
}

/** The file's values, checked against `options` (the command's flags, minus "config"). */
export function readConfigFile(path: string, options: Options, ignoreUnknown = false): Values {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw bad(path, `cannot read it: ${(e as Error).message}`);
  }
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw bad(path, `not JSON: ${(e as Error).message}`);
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) throw bad(path, "must be a JSON object of flag names and values");
  const out: Values = {};
  for (const [k, raw] of Object.entries(o as Record<string, unknown>)) {
    const opt = options[k];
    if (!opt && ignoreUnknown) continue;
    if (!opt || k === "config") throw bad(path, `unknown option "${k}" (the keys are the command's flag names without "--")`);
    const one = (x: unknown): string | boolean => {
      if (opt.type === "boolean") {
        if (typeof x !== "boolean") throw bad(path, `"${k}" must be true or false`);
        return x;
      }
      if (typeof x === "number" && Number.isFinite(x)) return String(x);
      if (typeof x !== "string" || x === "") throw bad(path, `"${k}" must be a non-empty string${opt.multiple ? " or a list of them" : ""}`);
      return x;
    };
    if (opt.multiple) out[k] = (Array.isArray(raw) ? raw : [raw]).map(one);
    else if (Array.isArray(raw)) throw bad(path, `"${k}" takes one value, not a list`);
    else out[k] = one(raw);
  }
  return out;
}

/** The command line's values over the file's (when `configPath` is given). */
export function withConfigFile<V extends Values>(cli: V, configPath: string | undefined, options: Options): V {
  if (configPath === undefined) return cli;
  const file = readConfigFile(configPath, options);
  const merged: Values = { ...file };
  for (const [k, v] of Object.entries(cli)) if (v !== undefined && k !== "config") merged[k] = v;
  return merged as V;
}
