// `antitheft owner ...`: the owner's side of PROTOCOL.md §6.2. An owner holds an Ed25519 key
// (owner keygen), asks the registry for a claim code (owner claim-code), types it on the handset
// and claims it with the proof the handset made for that code (owner claim),
// and signs reports (report-stolen, report-lost, found) and transfers. `owner status` reads the
// public view. Every request is a fresh COSE_Sign1 with a random id and the current time.
import type { Command } from "../command.js";
import { registryClientFor } from "./transport-flags.js";
import { CliError } from "../command.js";
import { hexArg, imeiFlag, parseFlags, readTextFile, required } from "./device-common.js";
import { keygenCommand } from "./registry.js";
import { loadPublicKey, loadSigningKey, type SigningKey } from "../../registry/keys.js";
import { coseKeyFromPublic } from "../../attestation/cose/key.js";
import { buildRequest, type RequestInput, type RequestType } from "../../registry/request-codec.js";

export const ownerKeygen = keygenCommand(
  "owner",
  "generate an owner key pair (PEM)",
  "Generates an owner key (Ed25519). The owner claims a handset with it (owner claim-code, then\nowner claim) and signs every report with it.",
);

/** --imei: 15 digits with a valid check digit (E_USAGE otherwise). */
export function imeiArg(v: string | undefined, usage: string): string {
  return imeiFlag(required(v, "imei", usage));
}

const ACTION_TEXT: Record<string, string> = { lock: "lock", unlock: "unlock", message: "message" };

/** Sends a signed request and prints the outcome; a refusal is a CliError with the registry's code. */
export async function sendRequest(registry: string, key: SigningKey, r: RequestInput): Promise<number> {
  const client = registryClientFor(registry);
  const a = await client.send(buildRequest(key.signer, r, await client.audience()));
  const b = a.body as { ok?: boolean; code?: string; message?: string; status?: string; commands?: { seq: number; action: string }[]; cleared?: string[]; expires?: number };
  if (a.status !== 200 || b.ok !== true) {
    throw new CliError(typeof b.code === "string" ? b.code : `E_HTTP_${a.status}`, `${r.type} refused by the registry (HTTP ${a.status}): ${b.message ?? "no reason given"}`);
  }
  const lines = [`${r.type} accepted for IMEI ${r.imei}`, `  equipment status: ${b.status}`];
  for (const c of b.commands ?? []) lines.push(`  command issued:   ${ACTION_TEXT[c.action] ?? c.action} (sequence ${c.seq}); the handset applies it when it is next online`);
  if (b.cleared) lines.push(`  flags cleared:    ${b.cleared.join(", ")}`);
  if (r.type === "claim-code" && typeof b.code === "string") {
    lines.push(`  claim code:       ${b.code}`, `  valid until:      ${new Date(b.expires ?? 0).toISOString()} (single use)`);
    lines.push(`  on the handset:   antitheft device claim-proof --dir DEVICE --code ${b.code}`);
  }
  process.stdout.write(lines.join("\n") + "\n");
  return 0;
}

function requestCommand(type: RequestType, summary: string, description: string, extra: "report" | "none"): Command {
  const more = extra === "report" ? " [--message TEXT] [--contact NUMBER]" : "";
  const usage = `Usage: antitheft owner ${type} --registry http://HOST:PORT --key owner.key --imei IMEI${more}

${description}
${extra === "report" ? "\n  --message   lock-screen message (at most 128 bytes of UTF-8)\n  --contact   number shown to the finder (at most 32 bytes)\n" : ""}`;
  return {
    path: ["owner", type],
    summary,
    usage,
    async run(argv) {
      const v = parseFlags(
        argv,
        { registry: { type: "string" }, key: { type: "string" }, imei: { type: "string" }, message: { type: "string" }, contact: { type: "string" } },
        usage,
      );
      if (extra !== "report" && (v.message !== undefined || v.contact !== undefined)) throw new CliError("E_USAGE", `${type} takes no --message or --contact\n\n${usage}`, 2);
      const registry = required(v.registry, "registry", usage);
      const imei = imeiArg(v.imei, usage); // checked first: a bad IMEI is a usage error, whatever the key
      const key = loadSigningKey(required(v.key, "key", usage));
      return sendRequest(registry, key, {
        type,
        imei,
        ...(v.message !== undefined ? { message: v.message } : {}),
        ...(v.contact !== undefined ? { contact: v.contact } : {}),
      });
    },
  };
}

export const ownerReportStolen = requestCommand(
  "report-stolen",
  "report your handset stolen: blacklist it and lock it",
  "Signs a report-stolen request with the owner key: the registry flags the handset (equipment\nstatus BLACKLISTED for networks) and sends it a signed lock command.",
  "report",
);
export const ownerReportLost = requestCommand(
  "report-lost",
  "report your handset lost: blacklist it and lock it",
  "Signs a report-lost request with the owner key: like report-stolen, flagged as lost.",
  "report",
);
export const ownerFound = requestCommand(
  "found",
  "report your handset found: clear your flag and unlock it",
  "Signs a found request: the registry clears the owner's own stolen/lost flag and sends an\nunlock command. Refused while another party's flag (an authority's) still stands.",
  "none",
);

const claimCodeUsage = `Usage: antitheft owner claim-code --registry http://HOST:PORT --key owner.key --imei IMEI

Asks the registry for a claim code for the handset, issued to this owner key: 10 characters
(XXXXX-XXXXX), single use, valid for 10 minutes (docs/PROTOCOL.md §6.2). Type it on the handset
(antitheft device claim-proof --dir DEVICE --code CODE), then send owner claim with the code and
the proof the handset prints.`;

export const ownerClaimCode: Command = {
  path: ["owner", "claim-code"],
  summary: "get a single-use claim code to type on your handset",
  usage: claimCodeUsage,
  async run(argv) {
    const v = parseFlags(argv, { registry: { type: "string" }, key: { type: "string" }, imei: { type: "string" } }, claimCodeUsage);
    const registry = required(v.registry, "registry", claimCodeUsage);
    const imei = imeiArg(v.imei, claimCodeUsage);
    const key = loadSigningKey(required(v.key, "key", claimCodeUsage));
    return sendRequest(registry, key, { type: "claim-code", imei, key: key.coseKey });
  },
};

const claimUsage = `Usage: antitheft owner claim --registry http://HOST:PORT --key owner.key --imei IMEI --code CODE --proof HEX|@FILE

Binds the owner key to an enrolled, unclaimed, unflagged handset. --code is the claim code the
registry issued to this owner key (owner claim-code); --proof is what the handset printed when the
code was typed on it (antitheft device claim-proof --dir DEVICE --code CODE), as hex, or @FILE for
a file holding the hex or the raw token: a registration-purpose attestation (EAT intuse 2) whose
nonce is SHA-512("antitheft/v1/claim" || code)[0..32] (docs/PROTOCOL.md §6.2).`;

async function proofArg(v: string): Promise<Uint8Array> {
  if (!v.startsWith("@")) return hexArg(v.trim(), "proof", 1, 16 * 1024);
  const text = (await readTextFile(v.slice(1), "proof file")).trim();
  if (/^[0-9a-fA-F]+$/.test(text)) return hexArg(text, "proof", 1, 16 * 1024);
  const { readFile } = await import("node:fs/promises");
  return new Uint8Array(await readFile(v.slice(1)));
}

export const ownerClaim: Command = {
  path: ["owner", "claim"],
  summary: "claim a handset with its proof for your owner key",
  usage: claimUsage,
  async run(argv) {
    const v = parseFlags(argv, { registry: { type: "string" }, key: { type: "string" }, imei: { type: "string" }, code: { type: "string" }, proof: { type: "string" } }, claimUsage);
    const registry = required(v.registry, "registry", claimUsage);
    const imei = imeiArg(v.imei, claimUsage);
    const key = loadSigningKey(required(v.key, "key", claimUsage));
    const code = required(v.code, "code", claimUsage);
    const proof = await proofArg(required(v.proof, "proof", claimUsage));
    return sendRequest(registry, key, { type: "claim", imei, key: key.coseKey, code, proof });
  },
};

const transferUsage = `Usage: antitheft owner transfer --registry http://HOST:PORT --key owner.key --imei IMEI --to new-owner.pub

Hands the handset over: signed by the current owner key, binds the new owner's public key.
Refused while the handset is flagged.`;

export const ownerTransfer: Command = {
  path: ["owner", "transfer"],
  summary: "transfer your handset to a new owner key",
  usage: transferUsage,
  async run(argv) {
    const v = parseFlags(argv, { registry: { type: "string" }, key: { type: "string" }, imei: { type: "string" }, to: { type: "string" } }, transferUsage);
    const registry = required(v.registry, "registry", transferUsage);
    const imei = imeiArg(v.imei, transferUsage);
    const key = loadSigningKey(required(v.key, "key", transferUsage));
    const to = coseKeyFromPublic(loadPublicKey(required(v.to, "to", transferUsage)));
    return sendRequest(registry, key, { type: "transfer", imei, key: to });
  },
};

const statusUsage = `Usage: antitheft owner status --registry http://HOST:PORT --imei IMEI [--key owner.key] [--json]

With --key (the owner's key, or a pinned authority's), a signed "view" request: the equipment
status, flags, lock state, the pending command, when the handset was last seen and attested,
and its recent commands. Exits 1 when the registry does not know the IMEI or the key is not the
owner's. Without --key, only what anyone may learn: whether the IMEI is flagged (PROTOCOL.md
§6.2 "Device views").`;

const LOCK_TEXT = ["unlocked", "partially locked", "locked"];

export const ownerStatus: Command = {
  path: ["owner", "status"],
  summary: "show a handset's status at the registry",
  usage: statusUsage,
  async run(argv) {
    const v = parseFlags(argv, { registry: { type: "string" }, imei: { type: "string" }, key: { type: "string" }, json: { type: "boolean" } }, statusUsage);
    const registry = required(v.registry, "registry", statusUsage);
    const imei = imeiArg(v.imei, statusUsage);
    const key = v.key === undefined ? undefined : loadSigningKey(v.key);
    const a = await registryClientFor(registry).device(imei, key?.signer);
    const b = a.body as Record<string, any>;
    if (a.status !== 200) throw new CliError(typeof b.code === "string" ? b.code : `E_HTTP_${a.status}`, `IMEI ${imei}: ${b.message ?? `HTTP ${a.status}`}`);
    if (v.json) {
      process.stdout.write(JSON.stringify(b, null, 2) + "\n");
      return 0;
    }
    if (!key) {
      process.stdout.write(`IMEI ${imei}: ${b.flagged ? "FLAGGED (reported stolen or lost)" : "not flagged"}\n  (the owner's view needs --key)\n`);
      return 0;
    }
    const lines = [`IMEI ${imei}: ${b.status}`];
    (b.devices as Record<string, any>[]).forEach((d, i) => {
      if (b.devices.length > 1) lines.push(`  device key ${i + 1} of ${b.devices.length}`);
      lines.push(`  lock state:   ${LOCK_TEXT[d.lockState] ?? d.lockState}${d.tampered ? " (TA TAMPERED)" : ""}`);
      lines.push(`  claimed:      ${d.claimed ? "yes" : "no"}`);
      lines.push(`  attested:     ${d.lastAttested ?? "never"}`);
      if (d.presence) lines.push(`  presence:     ${d.presence.online ? "online" : "offline"}, last seen ${d.presence.lastSeen} (unverified: MQTT status and heartbeats)`);
      const flags = (d.flags as Record<string, any>[]).map((f) => `${f.kind} (by ${f.raisedBy}, ${f.at}${f.reason ? `: ${f.reason}` : ""})`);
      lines.push(`  flags:        ${flags.length ? flags.join("; ") : "none"}`);
      const p = d.pendingCommand;
      lines.push(`  pending:      ${p ? `${p.action} (sequence ${p.seq}, ${p.status}, issued ${p.issuedAt})` : "none"}`);
      const r = d.lastResult;
      if (r) lines.push(`  last result:  ${r.action} (sequence ${r.seq}) ${r.status} at ${r.at}${r.error ? `: ${r.error.name} (${r.error.code}): ${r.error.text}` : ""}`);
      for (const a of (d.alerts ?? []) as Record<string, any>[]) lines.push(`  ALERT:        ${a.kind}: ${a.reason}`);
      for (const c of (d.timeline ?? []) as Record<string, any>[]) {
        lines.push(`  command ${c.seq}:    ${c.action} ${c.status}${c.reason ? `: ${c.reason}` : ""} (issued ${c.issuedAt})`);
      }
    });
    process.stdout.write(lines.join("\n") + "\n");
    return 0;
  },
};

export const ownerCommands: Command[] = [ownerKeygen, ownerClaimCode, ownerClaim, ownerReportStolen, ownerReportLost, ownerFound, ownerTransfer, ownerStatus];

