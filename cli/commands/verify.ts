// `antitheft verify`: checks an attestation token with its endorsement against pinned OEM keys and
// the expected nonce, with the attestation library's verifier (attestation/verifier.ts).
import type { Command } from "../command.js";
import { CliError } from "../command.js";
import { OemRoots } from "../../attestation/endorsement.js";
import { toJsonValue } from "../../attestation/json.js";
import { NonceStore } from "../../attestation/nonce-store.js";
import { verifyAttestation } from "../../attestation/verifier.js";
import { hexArg, parseFlags, printJson, readBinaryFile, readTextFile, required, withDeviceErrors } from "./device-common.js";

const usage = `Usage: antitheft verify --token HEX --endorsement FILE --oem-pub oem.pub [--oem-pub ...] --nonce HEX

Verifies the chain: the endorsement (FILE: raw COSE_Sign1, as endorsement.cbor) under one of the
pinned OEM public keys (SPKI PEM), then the token (hex) under the endorsed device key, the claims
of the profile, the identities (ueid, oemid, model), and that the token's nonce is --nonce.
Prints the verified claims as JSON and exits 0; otherwise prints "error <code>: <reason>" on
stderr and exits 1. A TAMPERED or locked device verifies (it is a fact the token reports).`;

export const verify: Command = {
  path: ["verify"],
  summary: "verify an attestation token against its endorsement and OEM keys",
  usage,
  run: (argv) =>
    withDeviceErrors(async () => {
      const v = parseFlags(
        argv,
        { token: { type: "string" }, endorsement: { type: "string" }, "oem-pub": { type: "string", multiple: true }, nonce: { type: "string" } },
        usage,
      );
      const token = hexArg(required(v.token, "token", usage).trim(), "token", 1);
      const endorsement = await readBinaryFile(required(v.endorsement, "endorsement", usage), "endorsement");
      const nonce = hexArg(required(v.nonce, "nonce", usage), "nonce");
      const pems: string[] = [];
      for (const p of required(v["oem-pub"], "oem-pub", usage)) pems.push(await readTextFile(p, "OEM public key"));
      const roots = new OemRoots(pems);
      // The nonce came from the command line: register it as issued now, so the verifier's
      // freshness check (issued, unused, within the TTL) passes exactly for this nonce.
      const nonces = new NonceStore({ ttlMs: 60_000 });
      try {
        nonces.register(nonce);
      } catch (e) {
        throw new CliError((e as { code?: string }).code ?? "E_NONCE_SIZE", (e as Error).message.replace(/^E_[A-Z_]+: /, ""));
      }
      const r = verifyAttestation({ token, endorsement, nonce }, { oemRoots: roots, nonces });
      if (!r.ok) throw new CliError(r.error.code, r.error.message.replace(`${r.error.code}: `, ""));
      printJson(toJsonValue(withTextModels(r.value)));
      return 0;
    }),
};

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The hardware model (hwmodel, RFC 9711 §4.2.4) is a model name: shown as text when it is UTF-8
 * (as the factory writes it), as hex only when it is not. Other byte strings stay hex.
 */
function withTextModels(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withTextModels);
  if (v === null || typeof v !== "object" || v instanceof Uint8Array || v instanceof Map) return v;
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => {
      if (k === "hwmodel" && x instanceof Uint8Array) {
        try {
          return [k, utf8.decode(x)];
        } catch {
          return [k, x];
        }
      }
      return [k, withTextModels(x)];
    }),
  );
}
