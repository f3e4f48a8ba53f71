// The documented ABI (docs/ABI.md): every export of the release TA with its arity. Issues that
// add exports add them here, and ta-abi.test.ts checks the module exports exactly this set.
import { TA_ERRORS } from "../../agent/ta-errors.js";

/** ABI v1: the I/O buffer and the known-answer crypto exports, with their arity. */
export const CRYPTO_FUNCTIONS: Readonly<Record<string, number>> = {
  io_ptr: 0,
  io_cap: 0,
  sha512: 1,
  hmac_sha512: 2,
  hkdf_sha512: 4,
  ed25519_public: 0,
  ed25519_sign: 1,
  ed25519_verify: 1,
};

/** Identity and attestation exports (docs/ABI.md "Identity and attestation"). */
export const IDENTITY_FUNCTIONS: Readonly<Record<string, number>> = {
  boot: 3,
  provision: 4,
  device_public: 0,
  attest: 3,
  sealed_state: 0,
  lock_state: 0,
};

/** Signed commands (docs/ABI.md "Commands"). */
export const COMMAND_FUNCTIONS: Readonly<Record<string, number>> = {
  apply_command: 1,
};

/** Every function export of the release TA and its number of i32 parameters (all return i32). */
export const ABI_FUNCTIONS: Readonly<Record<string, number>> = { ...CRYPTO_FUNCTIONS, ...IDENTITY_FUNCTIONS, ...COMMAND_FUNCTIONS };

/** Non-function exports. */
export const ABI_OTHER: Readonly<Record<string, WebAssembly.ImportExportKind>> = {
  memory: "memory",
};

/** The only import a TA may have. */
export const ALLOWED_IMPORTS = [{ module: "env", name: "abort", kind: "function" as const }];

const ERR_LENGTH = TA_ERRORS.ERR_LENGTH.code;
const ERR_RANGE = TA_ERRORS.ERR_RANGE.code;
const I32_MAX = 0x7fff_ffff;
const I32_MIN = -0x8000_0000;

/** Every malformed length on every crypto export (stateless), with the documented code (docs/ABI.md). */
export function malformedLengthCases(cap: number): [string, number[], number][] {
  const L_ = ERR_LENGTH;
  return [
    ["sha512", [-1], L_],
    ["sha512", [I32_MIN], L_],
    ["sha512", [cap + 1], L_],
    ["sha512", [I32_MAX], L_],
    ["hmac_sha512", [-1, 0], L_],
    ["hmac_sha512", [0, -1], L_],
    ["hmac_sha512", [I32_MIN, 0], L_],
    ["hmac_sha512", [cap + 1, 0], L_],
    ["hmac_sha512", [0, cap + 1], L_],
    ["hmac_sha512", [cap, 1], L_],
    ["hmac_sha512", [1, cap], L_],
    ["hmac_sha512", [I32_MAX, I32_MAX], L_], // i32 sum wraps to -2
    ["hmac_sha512", [I32_MAX, 2], L_], // i32 sum wraps negative
    ["hmac_sha512", [-2, 3], L_], // sum 1 looks fine, but a part is negative
    ["hkdf_sha512", [-1, 0, 0, 64], L_],
    ["hkdf_sha512", [0, -1, 0, 64], L_],
    ["hkdf_sha512", [0, 0, -1, 64], L_],
    ["hkdf_sha512", [cap + 1, 0, 0, 64], L_],
    ["hkdf_sha512", [0, cap + 1, 0, 64], L_],
    ["hkdf_sha512", [0, 0, cap + 1, 64], L_],
    ["hkdf_sha512", [cap, 1, 0, 64], L_],
    ["hkdf_sha512", [1, 1, cap - 1, 64], L_],
    ["hkdf_sha512", [I32_MAX, I32_MAX, 2, 64], L_],
    ["hkdf_sha512", [I32_MAX, 1, 0, 64], L_],
    ["hkdf_sha512", [-5, 3, 3, 64], L_],
    // out_len: ERR_RANGE when < 0, > 255*64 (RFC 5869 §2.3: L <= 255*HashLen), or when
    // out_len + info_len > io_cap (the TA moves info clear of the output; docs/ABI.md)
    ["hkdf_sha512", [0, 0, 0, -1], ERR_RANGE],
    ["hkdf_sha512", [0, 0, 0, I32_MIN], ERR_RANGE],
    ["hkdf_sha512", [0, 0, 100, 255 * 64], ERR_RANGE],
    ["hkdf_sha512", [0, 0, 0, 255 * 64 + 1], ERR_RANGE],
    ["hkdf_sha512", [0, 0, 0, cap + 1], ERR_RANGE],
    ["hkdf_sha512", [0, 0, 0, I32_MAX], ERR_RANGE],
    ["ed25519_sign", [-1], L_],
    ["ed25519_sign", [I32_MIN], L_],
    ["ed25519_sign", [cap - 32 + 1], L_],
    ["ed25519_sign", [I32_MAX], L_], // 32 + msg_len wraps
    ["ed25519_sign", [I32_MAX - 31], L_],
    ["ed25519_verify", [-1], L_],
    ["ed25519_verify", [I32_MIN], L_],
    ["ed25519_verify", [cap - 96 + 1], L_],
    ["ed25519_verify", [I32_MAX], L_], // 96 + msg_len wraps
    ["ed25519_verify", [I32_MAX - 95], L_],
  ];
}
