// The Trusted App's status codes as the host sees them, and the error the host throws.
// TA_ERRORS mirrors assembly/errors.ts entry for entry (same names, same numbers):
// test/ta-errors.test.ts parses that file and fails if the two tables drift apart.
// Append here whenever a code is appended there (docs/ABI.md, "Error codes").

export interface TaErrorInfo {
  readonly code: number;
  readonly text: string;
}

/** Codes the TA itself returns (< 0). Stable: never renumber, only append. */
export const TA_ERRORS = {
  ERR_LENGTH: { code: -1, text: "a length argument is negative, or the inputs do not fit in the I/O buffer" },
  ERR_RANGE: { code: -2, text: "an argument is outside the range the function supports (e.g. HKDF out_len > 255*64)" },
  ERR_MALFORMED: { code: -3, text: "the input bytes are malformed" },
  // -10 .. -29: identity, provisioning, sealed state, attestation
  ERR_NOT_BOOTED: { code: -10, text: "the call needs `boot` first" },
  ERR_ALREADY_BOOTED: { code: -11, text: "`boot` was already called on this instance (a reboot is a new instance)" },
  ERR_ALREADY_PROVISIONED: { code: -12, text: "the device is already provisioned; provisioning is write-once and nothing changed" },
  ERR_NOT_PROVISIONED: { code: -13, text: "the device is not provisioned yet (factory state): there is nothing to attest or seal" },
  ERR_TAMPERED: { code: -14, text: "refused because the sealed state failed verification at boot (TAMPERED)" },
  ERR_IMEI_FORMAT: { code: -15, text: "an IMEI is not exactly 15 ASCII digits" },
  ERR_IMEI_CHECK_DIGIT: { code: -16, text: "an IMEI's check digit (Luhn, 3GPP TS 23.003 Annex B) is wrong" },
  ERR_IMEI_DUPLICATE: { code: -17, text: "the second IMEI equals the first" },
  ERR_OEMID: { code: -18, text: "the OEM id is not 3 (IEEE OUI) or 16 bytes" },
  ERR_HWMODEL: { code: -19, text: "the hardware model is not 1..32 bytes" },
  ERR_REGISTRY_KEYS: { code: -20, text: "the number of registry public keys is not 1..4" },
  ERR_NONCE_SIZE: { code: -21, text: "the attestation nonce is not 8..64 bytes" },
  ERR_MEASUREMENT_SIZE: { code: -22, text: "the host-reported measurement is not 0..64 bytes" },
  ERR_COUNTER: { code: -23, text: "the replay-protected counter passed to `boot` is negative" },
  ERR_DBGSTAT: { code: -24, text: "the dbgstat passed to `boot` is not 0..4 (RFC 9711 §4.2.9)" },
  ERR_PURPOSE: { code: -25, text: "the intended use passed to `attest` is not 1..5 (EAT intuse, RFC 9711 §4.3.3)" },
  // -30 .. -49: signed commands
  ERR_CMD_MALFORMED: { code: -30, text: "the command is not the COSE_Sign1 of PROTOCOL.md §5 (CBOR, shape, types, sizes, extra bytes)" },
  ERR_CMD_ALG: { code: -31, text: "the command's protected header is not exactly {1: -8} (alg EdDSA and nothing else)" },
  ERR_CMD_ACTION: { code: -32, text: "the command's action is not 1 (lock), 2 (unlock) or 3 (show message)" },
  ERR_CMD_MESSAGE_SIZE: { code: -33, text: "the command's lock-screen message is over 128 bytes" },
  ERR_CMD_CONTACT_SIZE: { code: -34, text: "the command's contact number is over 32 bytes" },
  ERR_CMD_SIGNATURE: { code: -35, text: "the command is not signed by a provisioned registry key (unknown kid or bad signature)" },
  ERR_CMD_UEID: { code: -36, text: "the command's target ueid is not this device's (IMEI 1)" },
  ERR_CMD_DEVICE_KID: { code: -37, text: "the command's target device kid is not this device's" },
  ERR_CMD_REPLAY: { code: -38, text: "an authentic command for this device whose sequence number is not above the last accepted one" },
} as const satisfies Record<string, TaErrorInfo>;

/**
 * Codes the host wrapper uses for failures the TA cannot report itself. The TA never returns
 * these; they lie far outside the TA's ranges (-1 .. -49) so the two can never collide.
 */
export const HOST_ERRORS = {
  /** The module trapped (a WebAssembly RuntimeError): a TA bug, never expected. */
  ERR_TRAP: { code: -1000, text: "the Trusted App trapped" },
  /** The module called env.abort: a TA bug, never expected. */
  ERR_ABORT: { code: -1001, text: "the Trusted App aborted" },
  /** The TA returned a length larger than its I/O buffer, or a value the export cannot return. */
  ERR_BAD_STATUS: { code: -1002, text: "the Trusted App returned an impossible status" },
  /** An earlier trap or abort left this instance in an undefined state; it refuses further calls. */
  ERR_POISONED: { code: -1003, text: "this Trusted App instance trapped earlier and must be discarded" },
} as const satisfies Record<string, TaErrorInfo>;

export type TaErrorName = keyof typeof TA_ERRORS | keyof typeof HOST_ERRORS | "ERR_UNKNOWN";

const byCode = new Map<number, TaErrorName>(
  [...Object.entries(TA_ERRORS), ...Object.entries(HOST_ERRORS)].map(([name, info]) => [info.code, name as TaErrorName]),
);

/** The table name of a code ("ERR_UNKNOWN" for a code in neither table). */
export function taErrorName(code: number): TaErrorName {
  return byCode.get(code) ?? "ERR_UNKNOWN";
}

function describe(name: TaErrorName): string {
  if (name in TA_ERRORS) return TA_ERRORS[name as keyof typeof TA_ERRORS].text;
  if (name in HOST_ERRORS) return HOST_ERRORS[name as keyof typeof HOST_ERRORS].text;
  return "unknown status code";
}

/** A TA failure: `code` is the number (switch on it), `name` its table name, e.g. "ERR_LENGTH". */
export class TaError extends Error {
  readonly code: number;
  override readonly name: TaErrorName;
  /** The export that failed. */
  readonly export: string;

  constructor(code: number, exportName: string, detail?: string) {
    const name = taErrorName(code);
    super(`${exportName}: ${name} (${code}): ${describe(name)}${detail ? `: ${detail}` : ""}`);
    this.code = code;
    this.name = name;
    this.export = exportName;
  }
}
