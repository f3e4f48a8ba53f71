// A small HTTP client for a registry (PROTOCOL.md §6.2, §6.3): used by the owner and authority
// CLI, and usable by tests and conformance suites that drive a registry only through the protocol.
import { RegistryError } from "./errors.js";
import { REQUESTS_PATH, DEVICES_PREFIX, EIR_PATH, IDENTITY_PATH, CHECK_PREFIX, CLAIM_PROOFS_PATH } from "./paths.js";
import { fromHex, toHex, type Signer } from "../attestation/index.js";
import { buildRequest } from "./request-codec.js";

export interface HttpAnswer<T = Record<string, unknown>> {
  readonly status: number;
  readonly body: T;
}

export class RegistryClient {
  readonly base: string;
  readonly #doFetch: typeof fetch;

  /** `options.fetch`: e.g. transport/https.ts fetchWithCa for a registry whose certificate a private CA issued. */
  constructor(base: string, options: { readonly fetch?: typeof fetch } = {}) {
    this.#doFetch = options.fetch ?? fetch;
    let u: URL;
    try {
      u = new URL(base);
    } catch {
      throw new RegistryError("E_CONFIG", `not a registry URL: ${base}`);
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new RegistryError("E_CONFIG", `the registry URL must be http(s): ${base}`);
    this.base = u.origin;
  }

  async #fetch(path: string, init?: RequestInit): Promise<HttpAnswer> {
    let r: Response;
    const once = () => this.#doFetch(this.base + path, { ...init, signal: AbortSignal.timeout(15_000) });
    try {
      try {
        r = await once();
      } catch (e) {
        // A keep-alive connection the registry closed as this request went out (RFC 9112 §9.3.1:
        // a client may retry an idempotent request on a new connection). POSTs are not retried
        // here: a signed request sent twice would be refused as a replay.
        if ((init?.method ?? "GET") !== "GET" || !/other side closed|ECONNRESET|socket hang up/.test(String((e as Error).cause ?? ""))) throw e;
        r = await once();
      }
    } catch (e) {
      throw new RegistryError("E_CONFIG", `cannot reach the registry at ${this.base}: ${(e as Error).cause ?? (e as Error).message}`, { cause: e });
    }
    let body: Record<string, unknown>;
    try {
      body = (await r.json()) as Record<string, unknown>;
    } catch {
      throw new RegistryError("E_INTERNAL", `the registry answered ${r.status} with a body that is not JSON`);
    }
    return { status: r.status, body };
  }

  /** POSTs a signed request (COSE_Sign1 bytes). */
  send(request: Uint8Array): Promise<HttpAnswer> {
    return this.#fetch(REQUESTS_PATH, { method: "POST", body: Buffer.from(request), headers: { "content-type": "application/cose" } });
  }

  #audience: Promise<Uint8Array> | undefined;

  /**
   * The kid of the registry's command key, the "aud" its requests must carry (PROTOCOL.md §6.2),
   * read once from GET /antitheft/v1/registry.
   */
  audience(): Promise<Uint8Array> {
    this.#audience ??= this.#fetch(IDENTITY_PATH).then((a) => {
      const kid = a.body.kid;
      if (a.status !== 200 || typeof kid !== "string" || !/^[0-9a-f]{32}$/.test(kid)) {
        this.#audience = undefined;
        throw new RegistryError("E_CONFIG", `the registry at ${this.base} did not tell its identity (HTTP ${a.status})`);
      }
      return fromHex(kid);
    });
    return this.#audience;
  }

  /**
   * The view of an IMEI (PROTOCOL.md §6.2 "Device views"). Without `signer`: what anyone sees,
   * `{imei, flagged}`. With the owner's or an authority's key: a signed "view" request, answered
   * with the whole view (status, flags, lock state, presence, pending command, timeline).
   */
  async device(imei: string, signer?: Signer): Promise<HttpAnswer> {
    if (!signer) return this.#fetch(`${DEVICES_PREFIX}imei-${encodeURIComponent(imei)}`);
    const a = await this.send(buildRequest(signer, { type: "view", imei }, await this.audience()));
    if (a.status !== 200) return a;
    return { status: 200, body: { ok: true, ...(a.body.view as Record<string, unknown>) } };
  }

  /** The public check: whether an IMEI is flagged, and nothing else. */
  check(imei: string): Promise<HttpAnswer> {
    return this.#fetch(`${CHECK_PREFIX}imei-${encodeURIComponent(imei)}`);
  }

  /** Hands a handset's claim proof in for a claim code (docs/PORTAL.md §4). */
  handInClaimProof(code: string, proof: Uint8Array): Promise<HttpAnswer> {
    return this.#fetch(CLAIM_PROOFS_PATH, { method: "POST", body: JSON.stringify({ code, proof: toHex(proof) }), headers: { "content-type": "application/json" } });
  }

  /** TS 29.511 equipment status for a PEI ("imei-<15>" or "imeisv-<16>"). */
  equipmentStatus(pei: string): Promise<HttpAnswer> {
    return this.#fetch(`${EIR_PATH}?pei=${encodeURIComponent(pei)}`);
  }
}
