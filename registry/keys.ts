// The keys a registry holds or trusts (PROTOCOL.md §1):
// - its own Ed25519 command key (PKCS#8 PEM), behind a Signer handle: commands are signed with it;
// - pinned OEM roots (SPKI PEM): endorsements must chain to one (attestation/ OemRoots);
// - pinned authority keys (SPKI PEM): operators or police who may flag and clear.
// Key files are written by `antitheft registry keygen`, `owner keygen` and `authority keygen`.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import type { KeyObject } from "node:crypto";
import {
  coseKeyFromPublic, generateEd25519, kidOfPublic, nodeSigner, privateKeyFromPem, privateKeyToPem,
  publicKeyFromRaw, publicKeyToPem, rawPublicKey, toHex, type Signer,
} from "../attestation/index.js";
import { toRawPublic } from "../attestation/cose/key.js";
import { RegistryError } from "./errors.js";
import { ed25519KeyProblem, KEY_PROBLEM_TEXT } from "./key-validity.js";

/** A signing identity: the Signer handle plus the public identifiers derived from it. */
export interface SigningKey {
  readonly signer: Signer;
  readonly publicKey: Uint8Array;
  readonly coseKey: Uint8Array;
  readonly kid: Uint8Array;
}

export function signingKey(privateKey: KeyObject): SigningKey {
  const signer = nodeSigner(privateKey);
  return { signer, publicKey: signer.publicKey, coseKey: coseKeyFromPublic(signer.publicKey), kid: kidOfPublic(signer.publicKey) };
}

/** Reads a PKCS#8 PEM Ed25519 private key file (E_CONFIG with the path on failure). */
export function loadSigningKey(path: string): SigningKey {
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (e) {
    throw new RegistryError("E_CONFIG", `cannot read key file ${path}: ${(e as Error).message}`);
  }
  try {
    return signingKey(privateKeyFromPem(pem));
  } catch (e) {
    throw new RegistryError("E_CONFIG", `${path} is not an Ed25519 private key in PKCS#8 PEM (${(e as Error).message})`);
  }
}

/** Reads an SPKI PEM Ed25519 public key file as raw 32 bytes. */
export function loadPublicKey(path: string): Uint8Array {
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (e) {
    throw new RegistryError("E_CONFIG", `cannot read public key file ${path}: ${(e as Error).message}`);
  }
  let raw: Uint8Array;
  try {
    raw = toRawPublic(pem);
  } catch (e) {
    throw new RegistryError("E_CONFIG", `${path} is not an Ed25519 public key in SPKI PEM (${(e as Error).message})`);
  }
  return acceptablePublicKey(raw, path);
}

/** `raw` when it is an acceptable Ed25519 public key (key-validity.ts); E_CONFIG naming `what` otherwise. */
export function acceptablePublicKey(raw: Uint8Array, what: string): Uint8Array {
  const problem = ed25519KeyProblem(raw);
  if (problem) throw new RegistryError("E_CONFIG", `${what}: the key ${KEY_PROBLEM_TEXT[problem]}`);
  return raw;
}

/** The .pub path that goes with a .key path ("registry.key" -> "registry.pub"). */
export function publicPathFor(keyPath: string): string {
  return keyPath.endsWith(".key") ? keyPath.slice(0, -4) + ".pub" : keyPath + ".pub";
}

/**
 * Generates an Ed25519 key pair and writes `out` (PKCS#8 PEM, mode 0600) and its .pub
 * (SPKI PEM). Refuses to overwrite either file unless `force`.
 */
export function writeKeyPair(out: string, force = false): { keyPath: string; pubPath: string; kid: Uint8Array } {
  const pubPath = publicPathFor(out);
  for (const p of [out, pubPath]) {
    if (!force && existsSync(p)) throw new RegistryError("E_CONFIG", `${p} exists; refusing to overwrite it (use --force)`);
  }
  const { privateKey } = generateEd25519();
  writeFileSync(out, privateKeyToPem(privateKey), { mode: 0o600 });
  writeFileSync(pubPath, publicKeyToPem(privateKey));
  return { keyPath: out, pubPath, kid: kidOfPublic(rawPublicKey(privateKey)) };
}

export interface PinnedKey {
  readonly publicKey: Uint8Array;
  readonly key: KeyObject;
  readonly coseKey: Uint8Array;
  readonly kid: Uint8Array;
}

/** A fixed set of public keys indexed by kid (the registry's pinned authorities). */
export class KeySet {
  readonly #byKid = new Map<string, PinnedKey>();

  constructor(keys: readonly (Uint8Array | KeyObject | string)[] = []) {
    for (const k of keys) {
      const raw = acceptablePublicKey(toRawPublic(k), "a pinned authority key");
      const kid = kidOfPublic(raw);
      this.#byKid.set(toHex(kid), { publicKey: raw, key: publicKeyFromRaw(raw), coseKey: coseKeyFromPublic(raw), kid });
    }
  }

  get size(): number {
    return this.#byKid.size;
  }

  find(kid: Uint8Array): PinnedKey | undefined {
    return this.#byKid.get(toHex(kid));
  }
}
