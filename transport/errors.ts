// Transport errors with stable codes, and the one mapping from Node/OpenSSL TLS failures to them
// (RFC 8446 §6.2 alerts as OpenSSL reports them; Node's X.509 verification codes). Every party -
// agent, registry, sim, conformance, audit - reports a refused connection through `explainTls`,
// so an operator reads the same words for the same cause.

export type TransportCode =
  | "E_TLS_CONFIG" // a file is missing or unreadable, a key does not match its certificate
  | "E_TLS_UNKNOWN_CA" // the peer's certificate does not chain to the CA we trust (or ours to theirs)
  | "E_TLS_CERT_EXPIRED" // a certificate is outside its validity period
  | "E_TLS_CERT_REVOKED" // the broker's CRL lists our certificate
  | "E_TLS_NAME_MISMATCH" // the server's certificate does not name the host we dialled
  | "E_TLS_NO_CLIENT_CERT" // the server requires a client certificate and we sent none
  | "E_TLS_HANDSHAKE" // any other TLS failure
  | "E_MQTT_NOT_AUTHORIZED"; // TLS went through, the broker refused the MQTT identity or credentials

export class TransportError extends Error {
  /**
   * True when retrying cannot help: the peer judged a certificate or an identity (a TLS alert,
   * RFC 8446 §6.2, or a CONNACK refusal), or we judged the peer's. False for a TLS failure with no
   * verdict (a connection cut during the handshake, as when a broker restarts).
   */
  readonly permanent: boolean;

  constructor(
    readonly code: TransportCode,
    message: string,
    options?: { cause?: unknown; permanent?: boolean },
  ) {
    super(`${code}: ${message}`, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = "TransportError";
    this.permanent = options?.permanent ?? true;
  }
}

/** `e` is a refusal that retrying cannot heal (TransportError.permanent). */
export function isPermanentRefusal(e: unknown): e is TransportError {
  return e instanceof TransportError && e.permanent;
}

interface NodeTlsError {
  readonly code?: string | number;
  readonly reason?: string;
  readonly message?: string;
}

/**
 * A TLS (or MQTT CONNACK) failure as a TransportError, or undefined when `e` is not one.
 * `where` names the far end ("the broker at mqtts://...", "the registry at https://...").
 */
export function explainTls(e: unknown, where: string): TransportError | undefined {
  if (e instanceof TransportError) return e;
  const err = (e ?? {}) as NodeTlsError;
  const code = typeof err.code === "string" ? err.code : "";
  // MQTT.js reports a CONNACK refusal with its numeric reason code.
  const connack = typeof err.code === "number" ? err.code : undefined;
  const text = `${err.message ?? ""} ${err.reason ?? ""}`.toLowerCase();
  const cause = { cause: e };
  // Our verification of the server's certificate (node:tls checkServerIdentity, X509_verify_cert).
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID")
    return new TransportError("E_TLS_NAME_MISMATCH", `${where} presented a certificate for another name (${err.reason ?? err.message})`, cause);
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID")
    return new TransportError("E_TLS_CERT_EXPIRED", `${where} presented a certificate outside its validity period`, cause);
  if (["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "SELF_SIGNED_CERT_IN_CHAIN", "DEPTH_ZERO_SELF_SIGNED_CERT", "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "CERT_SIGNATURE_FAILURE"].includes(code))
    return new TransportError("E_TLS_UNKNOWN_CA", `${where} presented a certificate that does not chain to the CA given with --ca (${code})`, cause);
  // The server's verdict on our certificate, as a TLS alert (RFC 8446 §6.2).
  if (/alert certificate expired|alert number 45\b/.test(text))
    return new TransportError("E_TLS_CERT_EXPIRED", `${where} refused our client certificate: it has expired`, cause);
  if (/alert certificate revoked|alert number 44\b/.test(text))
    return new TransportError("E_TLS_CERT_REVOKED", `${where} refused our client certificate: it is revoked`, cause);
  if (/alert unknown ca|alert number 48\b|alert bad certificate|alert number 42\b/.test(text))
    return new TransportError("E_TLS_UNKNOWN_CA", `${where} refused our client certificate: it is not issued by a CA the server trusts`, cause);
  if (/certificate required|alert number 116\b|peer did not return a certificate/.test(text))
    return new TransportError("E_TLS_NO_CLIENT_CERT", `${where} requires a client certificate (--cert and --key)`, cause);
  if (/alert handshake failure|alert number 40\b/.test(text))
    return new TransportError("E_TLS_HANDSHAKE", `${where} ended the TLS handshake (no client certificate, or one it does not accept)`, cause);
  if (code.startsWith("ERR_SSL_") || code.startsWith("ERR_TLS_") || (/\bssl\b|\btls/.test(text) && code !== "ECONNREFUSED"))
    return new TransportError("E_TLS_HANDSHAKE", `TLS with ${where} failed: ${err.message ?? code}`, { ...cause, permanent: false });
  // MQTT CONNACK refusals (MQTT 3.1.1 §3.2.2.3 codes 4/5; MQTT 5 §3.2.2.2 0x86/0x87/0x8A).
  if (/not authori[sz]ed|bad user ?name or password|banned/.test(text) || (connack !== undefined && [4, 5, 0x86, 0x87, 0x8a].includes(connack)))
    return new TransportError("E_MQTT_NOT_AUTHORIZED", `${where} refused this identity: ${err.message ?? String(connack)}`, cause);
  return undefined;
}

/** `e` as an Error whose message says what went wrong at the transport level, when it can. */
export function describeConnectError(e: unknown, where: string): Error {
  return explainTls(e, where) ?? (e instanceof Error ? e : new Error(String(e)));
}
