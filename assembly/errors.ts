// Every status code the Trusted App returns, in one place (see docs/ABI.md, "Error codes").
// A function returns >= 0 (the length of its output in the I/O buffer) or one of these.
// Codes are stable: never renumber, only append. Ranges:
//   -1 .. -9    ABI and argument errors (issue 2)
//   -10 .. -29  identity, provisioning, sealed state, attestation (issue 3)
//   -30 .. -49  signed commands (issue 4)

/** A length argument is negative, or the inputs do not fit in the I/O buffer. */
export const ERR_LENGTH: i32 = -1;
/** An argument is outside the range the function supports (e.g. HKDF out_len > 255*64). */
export const ERR_RANGE: i32 = -2;
/** The input bytes are malformed. */
export const ERR_MALFORMED: i32 = -3;
