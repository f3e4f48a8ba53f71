// A conformance scenario: a named, documented test of one behaviour, with the requirement ids
// it checks (catalogue.ts) and the target capabilities it needs. It drives only the protocol and
// the handset driver (session.ts, flows.ts), so it runs unchanged against any agent or registry.
import type { Session } from "./session.js";
import type { Capability } from "./target.js";

export interface Scenario {
  /** Stable kebab-case name (`--scenario NAME`). */
  readonly name: string;
  readonly title: string;
  /** The requirements it checks (REQ-xx-nn). */
  readonly reqs: readonly string[];
  /** What it does and why it fails when the behaviour is broken (docs/CONFORMANCE.md). */
  readonly description: string;
  readonly needs?: readonly Capability[];
  run(s: Session): Promise<void>;
}
