// The transport-identity commands and checks (docs/PROTOCOL.md §2.1), as an operator meets them:
// `antitheft pki init/issue/revoke`, `factory provision --tls-ca`, and the clear refusals of the
// agent and registry before they connect (mismatched key, plain HTTP off loopback, flags that
// need mqtts://). X.509 contents are read back with node:crypto, an independent parser.
import "reflect-metadata"; // before @peculiar/x509 (its tsyringe needs it)
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as x509 from "@peculiar/x509";
import { loadClientTls } from "../transport/client-tls.js";
import { TransportError, explainTls, isPermanentRefusal } from "../transport/errors.js";
import { writeKeyPair } from "../registry/keys.js";

const cli = fileURLToPath(new URL("../cli/antitheft.js", import.meta.url));

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

test("pki init, issue (client and server), revoke: a P-256 CA, certificates naming their CN, and a CRL listing the revoked one", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "at-pki-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pki = join(dir, "pki");
  const init = await run("pki", "init", "--dir", pki);
  assert.equal(init.code, 0, init.stderr);
  assert.equal(statSync(join(pki, "ca.key")).mode & 0o777, 0o600);
  const ca = new X509Certificate(readFileSync(join(pki, "ca.crt")));
  assert.ok(ca.ca, "a CA certificate");
  assert.equal(ca.publicKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
  assert.equal((await run("pki", "init", "--dir", pki)).code, 1, "an existing CA is never overwritten");

  const client = await run("pki", "issue", "--dir", pki, "--cn", "at-r-registry", "--out", join(dir, "reg"));
  assert.equal(client.code, 0, client.stderr);
  const reg = new X509Certificate(readFileSync(join(dir, "reg.crt")));
  assert.equal(reg.subject, "CN=at-r-registry");
  assert.ok(reg.checkIssued(ca) && reg.verify(ca.publicKey), "issued and signed by the CA");
  assert.deepEqual(reg.keyUsage, ["1.3.6.1.5.5.7.3.2"], "TLS client authentication only");
  assert.equal(statSync(join(dir, "reg.key")).mode & 0o777, 0o600);
  assert.equal(loadClientTls({ ca: join(pki, "ca.crt"), cert: join(dir, "reg.crt"), key: join(dir, "reg.key") }).identity, "at-r-registry");

  const server = await run("pki", "issue", "--dir", pki, "--cn", "broker", "--server", "--host", "mqtt.example", "--host", "127.0.0.1", "--out", join(dir, "broker"));
  assert.equal(server.code, 0, server.stderr);
  const b = new X509Certificate(readFileSync(join(dir, "broker.crt")));
  assert.equal(b.subjectAltName, "DNS:mqtt.example, IP Address:127.0.0.1");
  assert.equal(b.checkHost("mqtt.example"), "mqtt.example");
  assert.deepEqual(b.keyUsage, ["1.3.6.1.5.5.7.3.1"]);

  const bad = await run("pki", "issue", "--dir", pki, "--cn", "a/b#", "--out", join(dir, "bad"));
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /E_TLS_CONFIG: a certificate CN must be/);

  const emptyCrl = new x509.X509Crl(readFileSync(join(pki, "crl.pem"), "utf8"));
  assert.equal(emptyCrl.entries.length, 0);
  const rev = await run("pki", "revoke", "--dir", pki, "--cert", join(dir, "reg.crt"));
  assert.equal(rev.code, 0, rev.stderr);
  const crlPem = readFileSync(join(pki, "crl.pem"), "utf8");
  assert.match(crlPem, /^-----BEGIN X509 CRL-----/, "the label OpenSSL (Mosquitto's crlfile) reads");
  const crl = new x509.X509Crl(crlPem);
  assert.deepEqual(crl.entries.map((e) => e.serialNumber.toLowerCase()), [reg.serialNumber.toLowerCase()]);
  assert.ok(await crl.verify({ publicKey: await new x509.X509Certificate(readFileSync(join(pki, "ca.crt"), "utf8")).publicKey.export() }), "signed by the CA");
  const index = JSON.parse(readFileSync(join(pki, "index.json"), "utf8")) as { cn: string; revoked?: string }[];
  assert.deepEqual(index.map((e) => [e.cn, e.revoked !== undefined]), [["at-r-registry", true], ["broker", false]]);
});

test("factory provision --tls-ca gives the handset its transport identity: CN = did, under the device CA", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "at-pki-factory-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pki = join(dir, "pki");
  assert.equal((await run("pki", "init", "--dir", pki)).code, 0);
  const oem = writeKeyPair(join(dir, "oem.key"));
  const reg = writeKeyPair(join(dir, "registry.key"));
  const phone = join(dir, "phone");
  const p = await run("factory", "provision", "--dir", phone, "--imei", "490154203237518", "--oem-key", oem.keyPath, "--registry-pub", reg.pubPath, "--model", "TLS Phone", "--tls-ca", pki);
  assert.equal(p.code, 0, p.stderr);
  const did = (JSON.parse(p.stdout) as { did: string }).did;
  const cert = new X509Certificate(readFileSync(join(phone, "tls-client.crt")));
  assert.equal(cert.subject, `CN=${did}`);
  assert.ok(cert.checkIssued(new X509Certificate(readFileSync(join(pki, "ca.crt")))));
  assert.equal(statSync(join(phone, "tls-client.key")).mode & 0o777, 0o600);
  assert.equal(readFileSync(join(phone, "tls-ca.crt"), "utf8"), readFileSync(join(pki, "ca.crt"), "utf8"));
  const tls = loadClientTls({ cert: join(phone, "tls-client.crt"), key: join(phone, "tls-client.key") });
  assert.equal(tls.identity, did);
  const index = JSON.parse(readFileSync(join(pki, "index.json"), "utf8")) as { cn: string }[];
  assert.deepEqual(index.map((e) => e.cn), [did], "the CA's index records what the factory issued");
  // Without --tls-ca: no transport identity in the folder.
  const plain = await run("factory", "provision", "--dir", join(dir, "phone2"), "--imei", "490154203237526", "--oem-key", oem.keyPath, "--registry-pub", reg.pubPath, "--model", "TLS Phone");
  assert.equal(plain.code, 0, plain.stderr);
  assert.throws(() => statSync(join(dir, "phone2", "tls-client.crt")));
});

test("clients refuse bad transport settings before connecting, each with a stable code", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "at-pki-bad-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pki = join(dir, "pki");
  assert.equal((await run("pki", "init", "--dir", pki)).code, 0);
  assert.equal((await run("pki", "issue", "--dir", pki, "--cn", "a", "--out", join(dir, "a"))).code, 0);
  assert.equal((await run("pki", "issue", "--dir", pki, "--cn", "b", "--out", join(dir, "b"))).code, 0);
  assert.throws(
    () => loadClientTls({ cert: join(dir, "a.crt"), key: join(dir, "b.key") }),
    (e: unknown) => e instanceof TransportError && e.code === "E_TLS_CONFIG" && /is not the key of the certificate/.test(e.message),
  );
  assert.throws(() => loadClientTls({ cert: join(dir, "a.crt") }), (e: unknown) => e instanceof TransportError && e.code === "E_TLS_CONFIG");
  assert.throws(() => loadClientTls({ ca: join(dir, "missing.crt") }), (e: unknown) => e instanceof TransportError && e.code === "E_TLS_CONFIG");

  const key = writeKeyPair(join(dir, "registry.key"));
  const common = ["--db", join(dir, "r.sqlite"), "--key", key.keyPath, "--oem-pub", key.pubPath];
  const [plainOff, certNoTls, mismatch, agentPlain] = await Promise.all([
    run("registry", "--broker", "mqtt://127.0.0.1:1", ...common, "--http", "0.0.0.0:0"),
    run("registry", "--broker", "mqtt://127.0.0.1:1", ...common, "--ca", join(pki, "ca.crt")),
    run("registry", "--broker", "mqtts://127.0.0.1:1", ...common, "--ca", join(pki, "ca.crt"), "--cert", join(dir, "a.crt"), "--cert-key", join(dir, "b.key")),
    run("agent", "--dir", dir, "--broker", "mqtt://127.0.0.1:1", "--cert", join(dir, "a.crt"), "--key", join(dir, "a.key")),
  ]);
  assert.equal(plainOff.code, 2);
  assert.match(plainOff.stderr, /plain HTTP on 0\.0\.0\.0 would be readable on the network/);
  assert.equal(certNoTls.code, 2);
  assert.match(certNoTls.stderr, /need an mqtts:\/\/ broker URL/);
  assert.equal(mismatch.code, 1);
  assert.match(mismatch.stderr, /^error E_TLS_CONFIG: .*is not the key of the certificate/m);
  assert.equal(agentPlain.code, 2);
  assert.match(agentPlain.stderr, /need an mqtts:\/\/ broker URL/);
});

test("TLS failures are named: Node's verification codes and the server's alerts (RFC 8446 §6.2)", () => {
  const cases: [object, string][] = [
    [{ code: "ERR_TLS_CERT_ALTNAME_INVALID", reason: "Host: x. is not in the cert's altnames" }, "E_TLS_NAME_MISMATCH"],
    [{ code: "CERT_HAS_EXPIRED" }, "E_TLS_CERT_EXPIRED"],
    [{ code: "SELF_SIGNED_CERT_IN_CHAIN" }, "E_TLS_UNKNOWN_CA"],
    [{ code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" }, "E_TLS_UNKNOWN_CA"],
    [{ code: "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED", message: "error:0A000415:SSL routines::sslv3 alert certificate expired" }, "E_TLS_CERT_EXPIRED"],
    [{ code: "ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED", message: "error:0A000414:SSL routines::sslv3 alert certificate revoked" }, "E_TLS_CERT_REVOKED"],
    [{ code: "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", message: "error:0A000418:SSL routines::tlsv1 alert unknown ca" }, "E_TLS_UNKNOWN_CA"],
    [{ code: "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED", message: "tlsv13 alert certificate required ... SSL alert number 116" }, "E_TLS_NO_CLIENT_CERT"],
    [{ code: 135, message: "Connection refused: Not authorized" }, "E_MQTT_NOT_AUTHORIZED"],
  ];
  for (const [e, code] of cases) assert.equal(explainTls(e, "the broker")?.code, code, JSON.stringify(e));
  // Each of those is a verdict no retry heals: the registry and the agent fail fast on it.
  for (const [e] of cases) assert.equal(isPermanentRefusal(explainTls(e, "the broker")), true, JSON.stringify(e));
  assert.equal(explainTls({ code: "ECONNREFUSED", message: "connect ECONNREFUSED 127.0.0.1:1" }, "the broker"), undefined, "not a TLS failure");
  // A handshake cut short (a broker restarting) is named but transient: retried.
  const cut = explainTls({ code: "ECONNRESET", message: "Client network socket disconnected before secure TLS connection was established" }, "the broker");
  assert.equal(cut?.code, "E_TLS_HANDSHAKE");
  assert.equal(isPermanentRefusal(cut), false);
});

test("deploy/mosquitto: acl-lab is the production acl plus the lab harness and the suite's two ledger members alone; both configs use it by identity", () => {
  const deploy = fileURLToPath(new URL("../../deploy/mosquitto/", import.meta.url));
  const acl = readFileSync(join(deploy, "acl"), "utf8");
  const lab = readFileSync(join(deploy, "acl-lab"), "utf8");
  assert.ok(lab.startsWith(acl), "acl-lab begins with the whole production acl");
  const extra = lab.slice(acl.length).split("\n").filter((l) => l.trim() && !l.startsWith("#"));
  assert.deepEqual(extra, [
    "user at-lab",
    "topic readwrite at/v1/#",
    // The conformance suite's two member registries: ledger topics only, like any ledger link.
    "user at-l-conformance-peer-1",
    "topic readwrite at/v1/ledger/#",
    "user at-l-conformance-peer-2",
    "topic readwrite at/v1/ledger/#",
  ]);
  for (const conf of ["mosquitto.conf", "mosquitto-password.conf"]) {
    const text = readFileSync(join(deploy, conf), "utf8");
    const listener = text.slice(text.indexOf("\nlistener 8883"));
    assert.match(text, /^allow_anonymous false$/m, conf);
    assert.match(text, /^acl_file \/etc\/mosquitto\/antitheft\/acl$/m, conf);
    assert.match(listener, /^use_username_as_clientid true$/m, `${conf}: a listener option in Mosquitto 2.0`);
  }
  const tls = readFileSync(join(deploy, "mosquitto.conf"), "utf8");
  for (const line of ["require_certificate true", "use_identity_as_username true", "crlfile /etc/mosquitto/antitheft/crl.pem"]) assert.ok(tls.includes(`\n${line}\n`), line);
  // Devices may write only their own report topics and read only their own inbox.
  const patterns = acl.split("\n").filter((l) => l.startsWith("pattern "));
  assert.ok(patterns.every((p) => /^pattern (read|write) at\/v1\/d\/%u\/[a-z]+$/.test(p)), "every pattern is confined to the device's own topics");
  assert.ok(!/pattern (write|readwrite) at\/v1\/d\/%u\/(challenge|command|desired)/.test(acl), "devices never write registry-only topics");
});
