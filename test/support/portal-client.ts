// An owner of the portal in tests, over HTTP only (docs/PORTAL.md): signs up with a passkey of a
// SoftAuthenticator, keeps the session cookie, and sends WebAuthn-signed requests - as the
// portal's pages do, but able to bend any part of an assertion.
import { SoftAuthenticator, type Alg, type Forgery } from "./soft-authenticator.js";

export interface Answer {
  readonly status: number;
  readonly body: any;
}

export class PortalOwner {
  readonly authenticator: SoftAuthenticator;
  cookie = "";
  kid = "";

  /** `base`: where to connect; `origin`: the portal's origin the passkey is used on (its host is the RP id). */
  constructor(readonly base: string, origin: string, alg: Alg, counts = true) {
    this.authenticator = new SoftAuthenticator(alg, origin, new URL(origin).hostname, counts);
  }

  /** A portal call as the portal's pages make it (same origin, JSON, the session cookie). */
  async call(path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const init: RequestInit = body === undefined
      ? { headers: { cookie: this.cookie, ...headers } }
      : { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json", origin: this.authenticator.origin, cookie: this.cookie, ...headers } };
    const r = await fetch(this.base + path, init);
    const set = r.headers.get("set-cookie");
    if (set) this.cookie = set.split(";")[0]!;
    return { status: r.status, body: await r.json() };
  }

  async signUp(name: string, f: Forgery = {}): Promise<Answer> {
    const o = await this.call("/portal/api/sign-up/options", { name });
    if (o.status !== 200) return o;
    const a = await this.call("/portal/api/sign-up", { name, credential: this.authenticator.register(o.body.options, f) });
    if (a.status === 200) this.kid = a.body.kid;
    return a;
  }

  /** The registry's payload and challenge for `fields` (POST /portal/api/prepare). */
  async prepare(fields: Record<string, unknown>): Promise<{ payload: string; challenge: string }> {
    const p = await this.call("/portal/api/prepare", fields);
    if (p.status !== 200) throw new Error(`prepare ${JSON.stringify(fields)}: HTTP ${p.status} ${JSON.stringify(p.body)}`);
    return p.body;
  }

  /** POSTs a WebAuthn-signed request body (JSON text) to /antitheft/v1/requests. */
  async post(body: string): Promise<Answer> {
    const r = await fetch(`${this.base}/antitheft/v1/requests`, { method: "POST", body, headers: { "content-type": "application/json" } });
    return { status: r.status, body: await r.json() };
  }

  /** One request: prepared by the registry, signed by `by` (default: this owner's passkey). Returns the answer and the body sent. */
  async request(fields: Record<string, unknown>, f: Forgery = {}, by: SoftAuthenticator = this.authenticator): Promise<Answer & { sent: string }> {
    const p = await this.prepare(fields);
    const sent = JSON.stringify({ payload: p.payload, credential: by.assert(p.challenge, f) });
    return { ...(await this.post(sent)), sent };
  }
}
