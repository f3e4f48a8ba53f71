// Every status code the Trusted App returns, in one place (see docs/ABI.md, "Error codes").
// A function returns >= 0 (the length of its output in the I/O buffer) or one of these.
// Codes are stable: never renumber, only append. Ranges:
//   -1 .. -9    ABI and argument errors
//   -10 .. -29  identity, provisioning, sealed state, attestation
//   -30 .. -49  signed commands

/** A length argument is negative, or the inputs do not fit in the I/O buffer. */
export const ERR_LENGTH: i32 = -1;
/** An argument is outside the range the function supports (e.g. HKDF out_len > 255*64). */
export const ERR_RANGE: i32 = -2;
/** The input bytes are malformed. */
export const ERR_MALFORMED: i32 = -3;

// -10 .. -29: identity, provisioning, sealed state, attestation (docs/ABI.md).
/** The call needs `boot` first. */
export const ERR_NOT_BOOTED: i32 = -10;
/** `boot` was already called on this instance (a reboot is a new instance). */
export const ERR_ALREADY_BOOTED: i32 = -11;
/** The device is already provisioned; provisioning is write-once and nothing changed. */
export const ERR_ALREADY_PROVISIONED: i32 = -12;
/** The device is not provisioned yet (factory state): there is nothing to attest or seal. */
export const ERR_NOT_PROVISIONED: i32 = -13;
/** Refused because the sealed state failed verification at boot (TAMPERED). */
export const ERR_TAMPERED: i32 = -14;
/** An IMEI is not exactly 15 ASCII digits. */
export const ERR_IMEI_FORMAT: i32 = -15;
/** An IMEI's check digit (Luhn, 3GPP TS 23.003 Annex B) is wrong. */
export const ERR_IMEI_CHECK_DIGIT: i32 = -16;
/** The second IMEI equals the first. */
export const ERR_IMEI_DUPLICATE: i32 = -17;
/** The OEM id is not 3 (IEEE OUI) or 16 bytes. */
export const ERR_OEMID: i32 = -18;
/** The hardware model is not 1..32 bytes. */
export const ERR_HWMODEL: i32 = -19;
/** The number of registry public keys is not 1..4. */
export const ERR_REGISTRY_KEYS: i32 = -20;
/** The attestation nonce is not 8..64 bytes. */
export const ERR_NONCE_SIZE: i32 = -21;
/** The host-reported measurement is not 0..64 bytes. */
export const ERR_MEASUREMENT_SIZE: i32 = -22;
/** The replay-protected counter passed to `boot` is negative. */
export const ERR_COUNTER: i32 = -23;
/** The dbgstat passed to `boot` is not 0..4 (RFC 9711 §4.2.9). */
export const ERR_DBGSTAT: i32 = -24;
/** The intended use passed to `attest` is not 1..5 (EAT intuse, RFC 9711 §4.3.3). */
export const ERR_PURPOSE: i32 = -25;

// -30 .. -49: signed commands (apply_command, docs/ABI.md "Commands").
/** The command is not the COSE_Sign1 of PROTOCOL.md §5 (CBOR, shape, types, sizes, extra bytes). */
export const ERR_CMD_MALFORMED: i32 = -30;
/** The command's protected header is not exactly {1: -8} (alg EdDSA and nothing else). */
export const ERR_CMD_ALG: i32 = -31;
/** The command's action is not 1 (lock), 2 (unlock) or 3 (show message). */
export const ERR_CMD_ACTION: i32 = -32;
/** The command's lock-screen message is over 128 bytes. */
export const ERR_CMD_MESSAGE_SIZE: i32 = -33;
/** The command's contact number is over 32 bytes. */
export const ERR_CMD_CONTACT_SIZE: i32 = -34;
/** The command is not signed by a provisioned registry key (unknown kid or bad signature). */
export const ERR_CMD_SIGNATURE: i32 = -35;
/** The command's target ueid is not this device's (IMEI 1). */
export const ERR_CMD_UEID: i32 = -36;
/** The command's target device kid is not this device's. */
export const ERR_CMD_DEVICE_KID: i32 = -37;
/** An authentic command for this device whose sequence number is not above the last accepted one. */
export const ERR_CMD_REPLAY: i32 = -38;
