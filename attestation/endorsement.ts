// The OEM's part of the trust chain (IETF RATS, RFC 9334 §3: the Endorser).
// At provisioning, the OEM factory key signs a CWT binding the device attestation key (cnf)
// to the handset's identity: ueid (IMEI 1), sueids (IMEI 2), oemid, hwmodel (contract C2).
// A verifier trusts a pinned set of OEM root public keys; the endorsement's kid (unprotected,
// a hint only) selects the root, whose signature must verify.
import type { KeyObject } from "node:crypto";
import { AttestationError, guard, type Result } from "./errors.js";
import { abytes, equalBytes, toHex } from "./bytes.js";
import { encodeDeterministic } from "./cbor/deterministic.js";
import { coseKeyMap, kidOfPublic, publicKeyFromRaw, toRawPublic } from "./cose/key.js";
import { createSign1, decodeSign1, verifySign1Signature, type Signer } from "./cose/sign1.js";
import { CLAIM, CNF_COSE_KEY, SUEID_IMEI2, decodeEndorsementClaims, type EndorsementClaims } from "./eat/claims.js";
import { ENDORSEMENT_PROFILE, checkProfileHeaders } from "./eat/profile.js";
import { ueidFromImei } from "./imei.js";

export interface EndorsementInput {
  /** The OEM factory key (e.g. nodeSigner(privateKeyFromPem(pem)), or an HSM handle). */
  readonly oem: Signer;
  /** iss (1): the OEM's name, optional. */
  readonly issuer?: string;
  /** iat (6): seconds since the epoch. */
  readonly issuedAt: number;
  /** The device attestation public key (raw 32 bytes, KeyObject or SPKI PEM). */
  readonly deviceKey: Uint8Array | KeyObject | string;
  readonly imei: string;
  readonly imei2?: string;
  /** oemid (258): 3 bytes (IEEE OUI) or 16 bytes. */
  readonly oemid: Uint8Array;
  /** hwmodel (259): 1..32 bytes of UTF-8. */
  readonly hwmodel: string | Uint8Array;
}

/** Creates an endorsement: tag 61(tag 18(COSE_Sign1)) signed by the OEM key (contract C2). */
export function createEndorsement(input: EndorsementInput): Uint8Array {
  const device = toRawPublic(input.deviceKey);
  const claims = new Map<number, unknown>([
    [CLAIM.iat, input.issuedAt],
    [CLAIM.cnf, new Map([[CNF_COSE_KEY, coseKeyMap(device)]])],
    [CLAIM.ueid, ueidFromImei(input.imei)],
    [CLAIM.oemid, abytes(input.oemid, "oemid")],
    [CLAIM.hwmodel, typeof input.hwmodel === "string" ? new TextEncoder().encode(input.hwmodel) : input.hwmodel],
    [CLAIM.eat_profile, ENDORSEMENT_PROFILE],
  ]);
  if (input.issuer !== undefined) claims.set(CLAIM.iss, input.issuer);
  if (input.imei2 !== undefined) claims.set(CLAIM.sueids, new Map([[SUEID_IMEI2, ueidFromImei(input.imei2)]]));
  const payload = encodeDeterministic(claims);
  decodeEndorsementClaims(payload); // never issue what the verifier would refuse
  return createSign1(payload, input.oem);
}

export interface OemRoot {
  /** The OEM root public key: raw 32 bytes, KeyObject, or SPKI PEM. */
  readonly key: Uint8Array | KeyObject | string;
  /** If set, endorsements under this root must carry this oemid. */
  readonly oemid?: Uint8Array;
}

interface PinnedRoot {
  readonly raw: Uint8Array;
  readonly key: KeyObject;
  readonly kid: Uint8Array;
  readonly oemid?: Uint8Array;
}

/** A fixed set of trusted OEM root keys, indexed by kid (contract C2). */
export class OemRoots {
  readonly #byKid = new Map<string, PinnedRoot>();

  constructor(roots: ReadonlyArray<OemRoot | Uint8Array | KeyObject | string>) {
    if (!Array.isArray(roots) || roots.length === 0) throw new AttestationError("E_ARGUMENT", "at least one OEM root key is required");
    for (const r of roots) {
      const root: OemRoot = r instanceof Uint8Array || typeof r === "string" || !("key" in r) ? { key: r } : r;
      const raw = toRawPublic(root.key);
      const kid = kidOfPublic(raw);
      this.#byKid.set(toHex(kid), {
        raw,
        key: publicKeyFromRaw(raw),
        kid,
        ...(root.oemid === undefined ? {} : { oemid: abytes(root.oemid, "oemid") }),
      });
    }
  }

  get size(): number {
    return this.#byKid.size;
  }

  /** @internal the pinned root for a kid, if any. */
  find(kid: Uint8Array): PinnedRoot | undefined {
    return this.#byKid.get(toHex(kid));
  }
}

export interface VerifiedEndorsement {
  readonly claims: EndorsementClaims;
  /** kid of the OEM root that signed it. */
  readonly oemKid: Uint8Array;
  /** kid of the endorsed device key. */
  readonly deviceKid: Uint8Array;
}

/** @internal throwing form used by the verifier. */
export function checkEndorsement(bytes: Uint8Array, roots: OemRoots): VerifiedEndorsement {
  if (!(roots instanceof OemRoots)) throw new AttestationError("E_ARGUMENT", "roots must be an OemRoots");
  const s = decodeSign1(bytes);
  const kid = checkProfileHeaders(s, "endorsement");
  const root = roots.find(kid);
  if (root === undefined) throw new AttestationError("E_ENDORSEMENT_UNTRUSTED", "the endorsement's kid names no pinned OEM root");
  verifySign1Signature(s, root.key);
  const claims = decodeEndorsementClaims(s.payload);
  if (root.oemid !== undefined && !equalBytes(root.oemid, claims.oemid)) {
    throw new AttestationError("E_OEMID_MISMATCH", "the endorsement's oemid is not the one pinned for this OEM root");
  }
  return { claims, oemKid: root.kid, deviceKid: kidOfPublic(claims.deviceKey) };
}

/** Verifies an endorsement against pinned OEM roots. Never throws. */
export function verifyEndorsement(bytes: Uint8Array, roots: OemRoots): Result<VerifiedEndorsement> {
  return guard(() => checkEndorsement(bytes, roots));
}
