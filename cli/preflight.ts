// Checks of a tool's configuration against the registry it is pointed at, made before the tool
// does its work, so a configuration mistake is reported as one (E_CONFIG, exit 2, naming the
// option) and not as a failure of the registry under test or under audit:
// - the public key given for a registry (--pub, --registry-pub) is the one it serves at
//   GET /antitheft/v1/registry (PROTOCOL.md §6.2: its command key and kid);
// - a registry given to the auditor keeps a ledger (GET /antitheft/v1/ledger/sth answers 404
//   E_NOT_FOUND "keeps no ledger" when it was started without --federation-key).
// A registry that cannot be reached is left to the tool (it may be down: that is not a mistake
// in the options); one whose HTTPS certificate we refuse is a mistake (E_TLS_*, exit 2).
import { fromHex, kidOfPublic, toHex } from "../attestation/index.js";
import { equalBytes } from "../attestation/bytes.js";
import { CliError } from "./command.js";
import { IDENTITY_PATH } from "../registry/paths.js";
import { LEDGER_PREFIX } from "../registry/ledger/http.js";
import { explainTls, isPermanentRefusal } from "../transport/errors.js";

const TIMEOUT_MS = 10_000;

async function getJson(url: string, fetchImpl: typeof fetch = fetch): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
  try {
    const r = await fetchImpl(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    let body: Record<string, unknown> = {};
    try {
      body = (await r.json()) as Record<string, unknown>;
    } catch {
      // not JSON: an answer all the same
    }
    return { status: r.status, body };
  } catch (e) {
    // A TLS refusal (a certificate that does not chain to the CA we trust, or names another host)
    // is a configuration mistake no retry heals, not a registry that is down (PROTOCOL.md §2.1).
    const t = explainTls((e as { cause?: unknown }).cause ?? e, `the registry at ${url}`);
    if (isPermanentRefusal(t)) throw new CliError(t.code, t.message.replace(/^E_[A-Z_]+: /, ""), 2);
    return undefined; // unreachable
  }
}

const base = (url: string): string => url.replace(/\/+$/, "");

/**
 * E_CONFIG (exit 2) when the registry at `url` serves another command key than `publicKey`
 * (read from `keyOption`, e.g. "--pub a.pub"). Returns false when it could not be asked.
 * `fetchImpl`: the tool's own (e.g. transport/https.ts fetchWithCa for its --ca).
 */
export async function checkRegistryKey(url: string, publicKey: Uint8Array, keyOption: string, urlOption: string, fetchImpl?: typeof fetch): Promise<boolean> {
  const a = await getJson(`${base(url)}${IDENTITY_PATH}`, fetchImpl);
  if (!a || a.status !== 200 || typeof a.body.publicKey !== "string" || !/^[0-9a-f]{64}$/.test(a.body.publicKey)) return false;
  const served = fromHex(a.body.publicKey);
  if (!equalBytes(served, publicKey)) {
    throw new CliError(
      "E_CONFIG",
      `${keyOption} is not the key of the registry at ${urlOption} ${url}: it serves the key with kid ${toHex(kidOfPublic(served))}, the file holds kid ${toHex(kidOfPublic(publicKey))} (check the options: nothing was tested)`,
      2,
    );
  }
  return true;
}

/** E_CONFIG (exit 2) when the registry at `url` answers that it keeps no ledger. */
export async function checkKeepsLedger(url: string, urlOption: string, fetchImpl?: typeof fetch): Promise<void> {
  const a = await getJson(`${base(url)}${LEDGER_PREFIX}sth`, fetchImpl);
  if (a && a.status === 404 && a.body.code === "E_NOT_FOUND") {
    throw new CliError("E_CONFIG", `the registry at ${urlOption} ${url} keeps no ledger (it runs without --federation-key), so there is nothing to audit (docs/LEDGER.md)`, 2);
  }
}
