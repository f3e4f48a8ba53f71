// A relying party's check of a handset, written against the published library only: it imports
// `antitheft/protocol` (the MQTT messages of docs/PROTOCOL.md §4) and `antitheft/attestation`
// (the verifier of docs/ATTESTATION.md) by package name, as an OEM or a lab would.
//
//   node verify-attestation.js --oem-pub oem.pub challenge.cbor hello.cbor attestation.cbor
//
// challenge.cbor is the challenge the relying party sent (§4.2), hello.cbor the device's hello
// carrying its OEM endorsement (§4.1), attestation.cbor its answer (§4.3). Prints the verified
// identity and lock state as one JSON line and exits 0; or prints `error <code>: <message>` on
// stderr and exits 1 (a refused token), 2 (bad usage or unreadable files).
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { INTUSE, NonceStore, OemRoots, publicKeyFromPem, toHex, verifyAttestation } from "antitheft/attestation";
import { ProtocolError, decodeAttestation, decodeChallenge, decodeHello } from "antitheft/protocol";

function fail(status: number, code: string, message: string): never {
  process.stderr.write(`error ${code}: ${message}\n`);
  process.exit(status);
}

const { values, positionals } = parseArgs({ options: { "oem-pub": { type: "string" } }, allowPositionals: true });
const oemPub = values["oem-pub"];
if (oemPub === undefined || positionals.length !== 3) {
  fail(2, "E_USAGE", "verify-attestation --oem-pub oem.pub challenge.cbor hello.cbor attestation.cbor");
}
const [challengeFile, helloFile, attestationFile] = positionals as [string, string, string];

let oemRoots: OemRoots;
let nonce: Uint8Array, endorsement: Uint8Array, token: Uint8Array;
try {
  oemRoots = new OemRoots([publicKeyFromPem(readFileSync(oemPub, "utf8"))]);
  // Decoders take hostile bytes and throw only ProtocolError (E_MESSAGE).
  nonce = decodeChallenge(new Uint8Array(readFileSync(challengeFile))).nonce;
  endorsement = decodeHello(new Uint8Array(readFileSync(helloFile))).endorsement;
  token = decodeAttestation(new Uint8Array(readFileSync(attestationFile))).token;
} catch (e) {
  const code = e instanceof ProtocolError ? e.code : ((e as { code?: string }).code ?? "E_INPUT");
  fail(2, code, (e as Error).message);
}

// The relying party issued this nonce: register it, so the verifier accepts it once (RFC 9334 §10).
const nonces = new NonceStore({ ttlMs: 60_000 });
nonces.register(nonce);

// A challenge answer is a generic-purpose token (EAT intuse 1, RFC 9711 §4.3.3).
const r = verifyAttestation({ token, endorsement, nonce }, { oemRoots, nonces, expect: { purposes: [INTUSE.GENERIC] } });
if (!r.ok) fail(1, r.error.code, r.error.message);

const v = r.value;
process.stdout.write(
  JSON.stringify({
    ok: true,
    imei: v.imei,
    ...(v.imei2 === undefined ? {} : { imei2: v.imei2 }),
    deviceKid: toHex(v.deviceKid),
    oemKid: toHex(v.oemKid),
    hwmodel: Buffer.from(v.hwmodel).toString("utf8"),
    lockState: v.lockState,
    lastSeq: v.lastSeq,
    tampered: v.tampered,
  }) + "\n",
);
