// The flags of `antitheft sim` and `antitheft conformance` for an mqtts:// broker (docs/PROTOCOL.md
// §2.1, docs/CONFORMANCE.md "Over mutual TLS"): the broker's CA, the device CA that issues the
// virtual handsets' (and the in-process registry's) certificates, and the harness's own identity.
import { CliError } from "../command.js";
import { loadCa } from "../../transport/pki-dir.js";
import type { LabTls } from "../../simulator/lab-tls.js";
import { loadTlsFlags, transportCliError } from "./transport-flags.js";

export const LAB_TLS_FLAGS = {
  ca: { type: "string" },
  "device-ca": { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
} as const;

export const LAB_TLS_USAGE = `  --ca FILE            with an mqtts:// broker: the CA certificate (PEM) its certificate chains to
  --device-ca DIR      an \`antitheft pki init\` folder (ca.crt, ca.key) whose CA the broker trusts:
                       it issues each virtual handset's certificate (CN = its device id), the
                       in-process registry's (at-r-registry, at-l-registry) and the ledger
                       members' the suite plays (at-l-conformance-peer-1, -2)
  --cert, --key FILE   the harness's certificate and key (observer, attacker; \`antitheft pki issue
                       at-lab\`, allowed by deploy/mosquitto/acl-lab)`;

/** The lab's TLS material for `broker`, or undefined for a plain one. E_USAGE for a wrong mix, E_TLS_* for bad files. */
export function labTlsFromFlags(v: { ca?: string; "device-ca"?: string; cert?: string; key?: string }, broker: string | undefined): LabTls | undefined {
  const tlsBroker = broker !== undefined && /^mqtts:/i.test(broker);
  const given = (["ca", "device-ca", "cert", "key"] as const).filter((f) => v[f] !== undefined);
  if (!tlsBroker) {
    if (given.length > 0) throw new CliError("E_USAGE", `--${given.join(", --")}: only with an mqtts:// --broker`, 2);
    return undefined;
  }
  const missing = (["ca", "device-ca", "cert", "key"] as const).filter((f) => v[f] === undefined);
  if (missing.length > 0) throw new CliError("E_USAGE", `an mqtts:// broker needs --ca, --device-ca, --cert and --key (missing --${missing.join(", --")})`, 2);
  try {
    const harness = loadTlsFlags({ ca: v.ca!, cert: v.cert!, key: v.key! });
    const deviceCa = loadCa(v["device-ca"]!);
    return { caPem: harness.ca!.toString("utf8"), deviceCa, harness: { tls: harness } };
  } catch (e) {
    if (e instanceof CliError) throw e;
    transportCliError(e);
  }
}
