// `antitheft authority ...`: an operator's or police authority's side of PROTOCOL.md §6.2.
// Its public key must be pinned by the registry (--authority-pub). `flag` blacklists and locks
// every handset bound to an IMEI; `clear` lifts the authority's own flags (and, once it has none
// left there, the registry's clone/tampered suspicions it has reviewed); `reset-owner` recovers a
// handset claimed by the wrong party (a police or operator process).
import type { Command } from "../command.js";
import { registryClientFor } from "./transport-flags.js";
import { parseFlags, required } from "./device-common.js";
import { keygenCommand } from "./registry.js";
import { imeiArg, sendRequest } from "./owner.js";
import { readFileSync } from "node:fs";
import { loadPublicKey, loadSigningKey, type SigningKey } from "../../registry/keys.js";
import { coseKeyFromPublic } from "../../attestation/cose/key.js";
import { buildRequest, MAX_BATCH_IMEIS } from "../../registry/request-codec.js";
import { isValidImei } from "../../attestation/index.js";
import { CliError } from "../command.js";

export const authorityKeygen = keygenCommand(
  "authority",
  "generate an authority key pair (PEM)",
  "Generates an authority key (Ed25519) for an operator or police service. Registries pin its\npublic key with --authority-pub.",
);

const flagUsage = `Usage: antitheft authority flag --registry http://HOST:PORT --key authority.key
                              (--imei IMEI | --imeis FILE) [--reason TEXT] [--message TEXT] [--contact NUMBER]

Flags every handset bound to the IMEI (BLACKLISTED) and sends each a signed lock command.
Only this authority can clear its flag; the owner cannot.

  --imeis     a mass block: a file of IMEIs (one per line, '#' comments), sent as signed
              flag-batch requests of up to ${MAX_BATCH_IMEIS} IMEIs; IMEIs the registry does not
              know are listed, not fatal
  --reason    recorded with the flag (at most 256 characters; not shown publicly)
  --message   lock-screen message (at most 128 bytes of UTF-8)
  --contact   number shown on the lock screen (at most 32 bytes)`;

/** The IMEIs of an --imeis file: one per line, blank lines and '#' comments skipped. */
function readImeiFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new CliError("E_FILE", `--imeis ${path}: ${(e as Error).message}`);
  }
  const imeis = text.split(/\r?\n/).map((l) => l.replace(/#.*/, "").trim()).filter((l) => l !== "");
  imeis.forEach((imei, i) => {
    if (!isValidImei(imei)) throw new CliError("E_USAGE", `--imeis ${path}: entry ${i + 1} ("${imei}") is not 15 digits with a valid check digit`, 2);
  });
  if (imeis.length === 0) throw new CliError("E_USAGE", `--imeis ${path}: no IMEIs`, 2);
  return [...new Set(imeis)];
}

async function flagBatches(registry: string, key: SigningKey, imeis: string[], text: { reason?: string; message?: string; contact?: string }): Promise<number> {
  const client = registryClientFor(registry);
  let flagged = 0;
  const unknown: string[] = [];
  for (let i = 0; i < imeis.length; i += MAX_BATCH_IMEIS) {
    const part = imeis.slice(i, i + MAX_BATCH_IMEIS);
    const a = await client.send(buildRequest(key.signer, { type: "flag-batch", imei: "", imeis: part, ...text }, await client.audience()));
    const b = a.body as { ok?: boolean; code?: string; message?: string; flagged?: unknown[]; unknown?: string[] };
    if (a.status === 404 && b.code === "E_UNKNOWN_DEVICE") {
      unknown.push(...part);
      continue;
    }
    if (a.status !== 200 || b.ok !== true) {
      throw new CliError(typeof b.code === "string" ? b.code : `E_HTTP_${a.status}`, `flag-batch (IMEIs ${i + 1}..${i + part.length}) refused by the registry (HTTP ${a.status}): ${b.message ?? "no reason given"}; ${flagged} flagged before it`);
    }
    flagged += b.flagged?.length ?? 0;
    unknown.push(...(b.unknown ?? []));
  }
  const lines = [`flag-batch accepted: ${flagged} of ${imeis.length} IMEIs flagged (BLACKLISTED, lock commands issued)`];
  if (unknown.length > 0) lines.push(`  not enrolled at this registry (${unknown.length}): ${unknown.join(" ")}`);
  process.stdout.write(lines.join("\n") + "\n");
  return flagged > 0 ? 0 : 1;
}

export const authorityFlag: Command = {
  path: ["authority", "flag"],
  summary: "flag an IMEI as an authority: blacklist and lock",
  usage: flagUsage,
  async run(argv) {
    const v = parseFlags(
      argv,
      { registry: { type: "string" }, key: { type: "string" }, imei: { type: "string" }, imeis: { type: "string" }, reason: { type: "string" }, message: { type: "string" }, contact: { type: "string" } },
      flagUsage,
    );
    const registry = required(v.registry, "registry", flagUsage);
    const imei = v.imeis === undefined ? imeiArg(v.imei, flagUsage) : undefined; // before the key: a bad IMEI is a usage error
    const key = loadSigningKey(required(v.key, "key", flagUsage));
    if (v.imeis !== undefined) {
      if (v.imei !== undefined) throw new CliError("E_USAGE", "give --imei or --imeis, not both", 2);
      const text = {
        ...(v.reason !== undefined ? { reason: v.reason } : {}),
        ...(v.message !== undefined ? { message: v.message } : {}),
        ...(v.contact !== undefined ? { contact: v.contact } : {}),
      };
      return flagBatches(registry, key, readImeiFile(v.imeis), text);
    }
    return sendRequest(registry, key, {
      type: "flag",
      imei: imei!,
      ...(v.reason !== undefined ? { reason: v.reason } : {}),
      ...(v.message !== undefined ? { message: v.message } : {}),
      ...(v.contact !== undefined ? { contact: v.contact } : {}),
    });
  },
};

const clearUsage = `Usage: antitheft authority clear --registry http://HOST:PORT --key authority.key --imei IMEI [--reason TEXT]

Clears this authority's flags on the IMEI; if it has none there, the registry's own clone or
tampered suspicions (after review). When no stolen, lost or authority flag is left on the
handset, the registry also sends it an unlock: the lock follows the network status.`;

export const authorityClear: Command = {
  path: ["authority", "clear"],
  summary: "clear an authority's flag on an IMEI",
  usage: clearUsage,
  async run(argv) {
    const v = parseFlags(argv, { registry: { type: "string" }, key: { type: "string" }, imei: { type: "string" }, reason: { type: "string" } }, clearUsage);
    const registry = required(v.registry, "registry", clearUsage);
    const imei = imeiArg(v.imei, clearUsage);
    const key = loadSigningKey(required(v.key, "key", clearUsage));
    return sendRequest(registry, key, { type: "clear", imei, ...(v.reason !== undefined ? { reason: v.reason } : {}) });
  },
};

const resetUsage = `Usage: antitheft authority reset-owner --registry http://HOST:PORT --key authority.key --imei IMEI [--owner-pub owner.pub] [--reason TEXT]

Ends the handset's current ownership (a handset claimed by the wrong party, after a police or
operator process). With --owner-pub the given key becomes the owner; without it the handset is
released: its holder may claim it again with a fresh claim code. Flags are not touched. The reset
is logged as an event and published as a signed "owner-reset" entry in the ledger.`;

export const authorityResetOwner: Command = {
  path: ["authority", "reset-owner"],
  summary: "reset (or reassign) a handset's owner",
  usage: resetUsage,
  async run(argv) {
    const v = parseFlags(argv, { registry: { type: "string" }, key: { type: "string" }, imei: { type: "string" }, "owner-pub": { type: "string" }, reason: { type: "string" } }, resetUsage);
    const registry = required(v.registry, "registry", resetUsage);
    const imei = imeiArg(v.imei, resetUsage);
    const key = loadSigningKey(required(v.key, "key", resetUsage));
    return sendRequest(registry, key, {
      type: "reset-owner",
      imei,
      ...(v["owner-pub"] !== undefined ? { key: coseKeyFromPublic(loadPublicKey(v["owner-pub"])) } : {}),
      ...(v.reason !== undefined ? { reason: v.reason } : {}),
    });
  },
};

export const authorityCommands: Command[] = [authorityKeygen, authorityFlag, authorityClear, authorityResetOwner];
