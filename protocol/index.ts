// Public surface of the protocol library (package export `antitheft/protocol`): the MQTT wire
// messages, topics and constants of docs/PROTOCOL.md (§1-§5) and the claim codes of §6.2.
// Decoders take hostile bytes and throw only ProtocolError (code E_MESSAGE) or, for claim codes,
// ClaimCodeError (E_CLAIM_CODE_FORMAT). Everything else in protocol/ is internal.
export {
  PROTOCOL_VERSION, TOPIC_PREFIX, MAX_PAYLOAD_BYTES, CHALLENGE_NONCE_BYTES, SESSION_EXPIRY_S,
  DEVICE_TOPICS, DEVICE_SUBSCRIPTIONS, isDid, deviceTopic, parseDeviceTopic, deviceClientId,
  ProtocolError, LOCK, RESULT_CODE, ACTION, resultCode,
  encodeHello, encodeChallenge, encodeAttestation, encodeHeartbeat, encodeReceipt, encodeResult,
  decodeHello, decodeChallenge, decodeAttestation, decodeHeartbeat, decodeReceipt, decodeResult,
  peekCommand, commandNonce,
  type DeviceTopicKind, type ResultStatus, type Hello, type Challenge, type AttestationMessage,
  type Heartbeat, type Receipt, type Result, type CommandPeek,
} from "./messages.js";
export {
  CLAIM_CODE_CHARS, CLAIM_CODE_ALPHABET, ClaimCodeError, newClaimCode, normalizeClaimCode, formatClaimCode, claimNonce,
} from "./claim-code.js";
