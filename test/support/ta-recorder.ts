// TaCallers for replaying one host's ABI calls elsewhere (agent/device-ta.ts takes any TaCaller):
// RecordingCaller remembers every call a DeviceTA made, so the same (export, args, input) can be
// re-run under valgrind; CProcessCaller answers each call from the wasm2c C build, replaying the
// calls so far in ONE fresh driver process, so the last answer comes from a process that carried
// the state of all the earlier calls (boot -> provision -> attest ...).
import type { TaCaller } from "../../agent/device-ta.js";
import type { TaResult } from "../../agent/trusted-app.js";
import { callLine, runC, type CBuild } from "./wasm2c.js";
import { unhex } from "./ta.js";

export interface RecordedCall {
  readonly name: string;
  readonly args: readonly number[];
  readonly input: Uint8Array;
  readonly status: number;
}

/** Forwards to `inner` and records each call and its status. */
export class RecordingCaller implements TaCaller {
  readonly calls: RecordedCall[] = [];
  readonly #inner: TaCaller;

  constructor(inner: TaCaller) {
    this.#inner = inner;
  }

  call(exportName: string, args: readonly number[], input: Uint8Array = new Uint8Array(0)): TaResult {
    const r = this.#inner.call(exportName, args, input);
    this.calls.push({ name: exportName, args: [...args], input: input.slice(), status: r.status });
    return r;
  }
}

/**
 * One TA instance in the C build. The TA is deterministic, so replaying the earlier calls in a
 * fresh process rebuilds the same state; each replay must print exactly the earlier answers.
 */
export class CProcessCaller implements TaCaller {
  readonly #build: CBuild;
  readonly #script: string[] = [];
  readonly #answers: string[] = [];

  constructor(build: CBuild) {
    this.#build = build;
  }

  /** The script of this instance so far (one driver line per call). */
  get script(): readonly string[] {
    return this.#script;
  }

  call(exportName: string, args: readonly number[], input: Uint8Array = new Uint8Array(0)): TaResult {
    this.#script.push(callLine(exportName, args, input));
    const r = runC(this.#build, this.#script);
    if (r.status !== 0) throw new Error(`C driver exited with ${r.status}: ${r.stderr}`);
    const earlier = r.lines.slice(0, -1);
    if (r.lines.length !== this.#script.length || earlier.some((l, i) => l !== this.#answers[i])) {
      throw new Error(`C driver replay diverged:\n${r.lines.join("\n").slice(0, 2000)}`);
    }
    const last = r.lines[r.lines.length - 1]!;
    this.#answers.push(last);
    const m = /^(-?\d+) ([0-9a-f]+|-)$/.exec(last);
    if (!m) throw new Error(`C driver answered "${last.slice(0, 80)}" to ${exportName}`);
    return { status: Number(m[1]), output: m[2] === "-" ? new Uint8Array(0) : unhex(m[2]!) };
  }
}
