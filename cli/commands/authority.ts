// `antitheft authority ...`: an operator's or police authority's side of PROTOCOL.md §6.2.
// Its public key must be pinned by the registry (--authority-pub). `flag` blacklists and locks
// every handset bound to an IMEI; `clear` lifts the authority's own flags (and, once it has none
// left there, the registry's clone/tampered suspicions it has reviewed).
import type { Command } from "../command.js";
import { parseFlags, required } from "./device-common.js";
import { keygenCommand } from "./registry.js";
import { imeiArg, sendRequest } from "./owner.js";
import { loadSigningKey } from "../../registry/keys.js";

export const authorityKeygen = keygenCommand(
  "authority",
  "generate an authority key pair (PEM)",
  "Generates an authority key (Ed25519) for an operator or police service. Registries pin its\npublic key with --authority-pub.",
);

const flagUsage = `Usage: antitheft authority flag --registry http://HOST:PORT --key authority.key --imei IMEI
                              [--reason TEXT] [--message TEXT] [--contact NUMBER]

Flags every handset bound to the IMEI (BLACKLISTED) and sends each a signed lock command.
Only this authority can clear its flag; the owner cannot.

  --reason    recorded with the flag (at most 256 characters; not shown publicly)
  --message   lock-screen message (at most 128 bytes of UTF-8)
  --contact   number shown on the lock screen (at most 32 bytes)`;

export const authorityFlag: Command = {
  path: ["authority", "flag"],
  summary: "flag an IMEI as an authority: blacklist and lock",
  usage: flagUsage,
  async run(argv) {
    const v = parseFlags(
      argv,
      { registry: { type: "string" }, key: { type: "string" }, imei: { type: "string" }, reason: { type: "string" }, message: { type: "string" }, contact: { type: "string" } },
      flagUsage,
    );
    const registry = required(v.registry, "registry", flagUsage);
    const key = loadSigningKey(required(v.key, "key", flagUsage));
    return sendRequest(registry, key, {
      type: "flag",
      imei: imeiArg(v.imei, flagUsage),
      ...(v.reason !== undefined ? { reason: v.reason } : {}),
      ...(v.message !== undefined ? { message: v.message } : {}),
      ...(v.contact !== undefined ? { contact: v.contact } : {}),
    });
  },
};

const clearUsage = `Usage: antitheft authority clear --registry http://HOST:PORT --key authority.key --imei IMEI [--reason TEXT]

Clears this authority's flags on the IMEI; if it has none there, the registry's own clone or
tampered suspicions (after review). It does not unlock: the owner's "found" does.`;

export const authorityClear: Command = {
  path: ["authority", "clear"],
  summary: "clear an authority's flag on an IMEI",
  usage: clearUsage,
  async run(argv) {
    const v = parseFlags(argv, { registry: { type: "string" }, key: { type: "string" }, imei: { type: "string" }, reason: { type: "string" } }, clearUsage);
    const registry = required(v.registry, "registry", clearUsage);
    const key = loadSigningKey(required(v.key, "key", clearUsage));
    return sendRequest(registry, key, { type: "clear", imei: imeiArg(v.imei, clearUsage), ...(v.reason !== undefined ? { reason: v.reason } : {}) });
  },
};

export const authorityCommands: Command[] = [authorityKeygen, authorityFlag, authorityClear];
