// IMEI pseudonyms for published ledger entries (docs/LEDGER.md §3 "Privacy").
//
//   pseudonym(imei) = HMAC-SHA-256(federation key, "at/v1/ledger/imei" || 0x00 || TAC+SNR)
//
// TAC + SNR are the 14 digits that identify the equipment (TS 23.003 §6.2.1); the check digit is a
// function of them, so IMEI and IMEISV forms of one handset get one pseudonym.
// Why keyed: the IMEI space is small (10^14, and with the TAC of a popular model known only 10^6
// serial numbers), so an unkeyed or publicly salted hash is reversed by enumeration in seconds.
// The federation key is a 32-byte secret shared by the member registries only: whoever reads the
// published log without it (brokers, auditors, the public) learns no IMEI and cannot test a
// guess. It does NOT hide IMEIs from members (they hold the key and may test any IMEI), nor the
// linkage of one IMEI's entries to each other (the pseudonym is stable so peers can match it),
// nor timing and volume. A leaked key turns every published pseudonym back into an IMEI by
// enumeration; rotation means publishing under a new key id (`fk`), see LEDGER.md.
import { createHash, createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { RegistryError } from "../errors.js";

export const FEDERATION_KEY_BYTES = 32;
export const PSEUDONYM_BYTES = 32;
export const KEY_ID_BYTES = 8;

const IMEI_DOMAIN = Buffer.from("at/v1/ledger/imei\x00", "latin1");
const KEY_ID_DOMAIN = Buffer.from("at/v1/ledger/fk\x00", "latin1");

/** The federation's pseudonymisation key, behind a handle: the key bytes are not exposed. */
export class FederationKey {
  readonly #key: Buffer;
  /** SHA-256("at/v1/ledger/fk" || 0x00 || key)[0..8]: names the key in entries, reveals nothing of it. */
  readonly id: Uint8Array;

  constructor(key: Uint8Array) {
    if (!(key instanceof Uint8Array) || key.length !== FEDERATION_KEY_BYTES) {
      throw new RegistryError("E_CONFIG", `a federation key is ${FEDERATION_KEY_BYTES} bytes`);
    }
    this.#key = Buffer.from(key);
    this.id = new Uint8Array(createHash("sha256").update(KEY_ID_DOMAIN).update(this.#key).digest().subarray(0, KEY_ID_BYTES));
  }

  /** The pseudonym of a 15-digit IMEI (or its 14-digit TAC + SNR). */
  pseudonym(imei: string): Uint8Array {
    if (typeof imei !== "string" || !/^[0-9]{14,15}$/.test(imei)) throw new RangeError("an IMEI is 15 digits (or TAC + SNR, 14)");
    return new Uint8Array(createHmac("sha256", this.#key).update(IMEI_DOMAIN).update(imei.slice(0, 14), "latin1").digest());
  }

  /** Reads a key file: 64 hexadecimal characters (e.g. `openssl rand -hex 32 > federation.key`). */
  static fromFile(path: string): FederationKey {
    let text: string;
    try {
      text = readFileSync(path, "utf8").trim();
    } catch (e) {
      throw new RegistryError("E_CONFIG", `cannot read the federation key ${path}: ${(e as Error).message}`);
    }
    if (!/^[0-9a-fA-F]{64}$/.test(text)) throw new RegistryError("E_CONFIG", `${path} must hold 64 hexadecimal characters (32 bytes)`);
    return new FederationKey(new Uint8Array(Buffer.from(text, "hex")));
  }
}
