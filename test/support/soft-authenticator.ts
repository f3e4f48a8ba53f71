// A software WebAuthn authenticator for tests (W3C WebAuthn Level 2 §6): makes "none"-attestation
// registrations and assertions with an ES256 (P-256) or EdDSA (Ed25519) key in node:crypto, so
// the registry's checks can be driven over HTTP without a browser - including forgeries a real
// browser would never produce (another origin, another RP id, a counter that stands still).
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import { encodeDeterministic } from "../../attestation/index.js";

export type Alg = "ES256" | "EdDSA";

const b64u = (b: Uint8Array): string => Buffer.from(b).toString("base64url");
const sha256 = (b: Uint8Array | string): Buffer => createHash("sha256").update(b).digest();

export interface Forgery {
  /** clientDataJSON origin (default: the authenticator's origin). */
  readonly origin?: string;
  /** The RP id whose hash goes into the authenticator data (default: the authenticator's). */
  readonly rpId?: string;
  /** Use this counter instead of the next one. */
  readonly counter?: number;
  /** Sign with this other authenticator's key (its credential id stays this one's). */
  readonly signWith?: SoftAuthenticator;
}

export class SoftAuthenticator {
  readonly alg: Alg;
  readonly credentialId = new Uint8Array(randomBytes(16));
  readonly coseKey: Uint8Array;
  readonly #key: KeyObject;
  #counter: number;
  readonly #counts: boolean;

  /** `counts`: false for an authenticator that keeps no signature counter (always 0). */
  constructor(alg: Alg, readonly origin: string, readonly rpId: string, counts = true) {
    this.alg = alg;
    this.#counts = counts;
    this.#counter = 0;
    if (alg === "ES256") {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const jwk = publicKey.export({ format: "jwk" });
      this.#key = privateKey;
      this.coseKey = encodeDeterministic(new Map<number, number | Uint8Array>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, "base64url")], [-3, Buffer.from(jwk.y!, "base64url")]]));
    } else {
      const { privateKey, publicKey } = generateKeyPairSync("ed25519");
      const jwk = publicKey.export({ format: "jwk" });
      this.#key = privateKey;
      this.coseKey = encodeDeterministic(new Map<number, number | Uint8Array>([[1, 1], [3, -8], [-1, 6], [-2, Buffer.from(jwk.x!, "base64url")]]));
    }
  }

  #sign(data: Uint8Array): Buffer {
    return this.alg === "ES256" ? sign("sha256", data, { key: this.#key, dsaEncoding: "der" }) : sign(null, data, this.#key);
  }

  #next(f: Forgery): number {
    if (f.counter !== undefined) return f.counter;
    if (!this.#counts) return 0;
    return ++this.#counter;
  }

  #authData(rpId: string, flags: number, counter: number, extra: Uint8Array = new Uint8Array(0)): Buffer {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    return Buffer.concat([sha256(rpId), Buffer.of(flags), c, extra]);
  }

  #clientData(type: string, challenge: string, origin: string): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }

  /** The registration response (PublicKeyCredential.toJSON() form) for creation options. */
  register(options: { challenge: string }, f: Forgery = {}): Record<string, unknown> {
    const idLen = Buffer.alloc(2);
    idLen.writeUInt16BE(this.credentialId.length);
    const attested = Buffer.concat([Buffer.alloc(16), idLen, this.credentialId, this.coseKey]); // AAGUID 0: no attestation
    const authData = this.#authData(f.rpId ?? this.rpId, 0x45, this.#next(f), attested); // UP | UV | AT
    const attestationObject = encodeDeterministic(new Map<string, unknown>([["fmt", "none"], ["attStmt", new Map()], ["authData", authData]]));
    return {
      id: b64u(this.credentialId), rawId: b64u(this.credentialId), type: "public-key", clientExtensionResults: {},
      response: { clientDataJSON: b64u(this.#clientData("webauthn.create", options.challenge, f.origin ?? this.origin)), attestationObject: b64u(attestationObject), transports: ["internal"] },
    };
  }

  /** An assertion over `challenge` (base64url). */
  assert(challenge: string, f: Forgery = {}): Record<string, unknown> {
    const authData = this.#authData(f.rpId ?? this.rpId, 0x05, this.#next(f)); // UP | UV
    const clientDataJSON = this.#clientData("webauthn.get", challenge, f.origin ?? this.origin);
    const signer = f.signWith ?? this;
    const signature = signer.#sign(Buffer.concat([authData, sha256(clientDataJSON)]));
    return {
      id: b64u(this.credentialId), rawId: b64u(this.credentialId), type: "public-key", clientExtensionResults: {},
      response: { authenticatorData: b64u(authData), clientDataJSON: b64u(clientDataJSON), signature: b64u(signature) },
    };
  }
}
