// The registry's HTTP resources (PROTOCOL.md §6.2, §6.3).
export const EIR_PATH = "/n5g-eir-eic/v1/equipment-status"; // 3GPP TS 29.511 §5.2.2.2
export const REQUESTS_PATH = "/antitheft/v1/requests";
export const DEVICES_PREFIX = "/antitheft/v1/devices/";
/** The registry's public identity: the kid and key that requests name as their "aud". */
export const IDENTITY_PATH = "/antitheft/v1/registry";
/** Operations (docs/OPERATIONS.md): liveness and readiness, Prometheus metrics. */
export const HEALTH_PATH = "/healthz";
export const METRICS_PATH = "/metrics";
/** The public check: is this IMEI flagged? (PROTOCOL.md §6.2). */
export const CHECK_PREFIX = "/antitheft/v1/check/";
/** Where a handset hands in the claim proof for a code (docs/PORTAL.md §4). */
export const CLAIM_PROOFS_PATH = "/antitheft/v1/claim-proofs";
