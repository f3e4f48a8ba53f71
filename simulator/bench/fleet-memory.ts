// Where a fleet handset's memory goes (section "fleet-tls"): each part measured alone, n at a
// time, as resident-set growth / n after a full collection (global.gc, node --expose-gc), in a
// fresh process (`node --expose-gc fleet-memory.js N` prints the figures as JSON): in a process
// that already ran a fleet the allocator reuses freed memory and the growth under-counts. The parts of one handset of a fleet over mutual TLS (simulator/fleet-worker.ts):
//   ta          a booted Trusted App session that has attested once (the TA's wasm instance and
//               its linear memory, the host wrapper) - what every handset's agent holds
//   context     the handset's SecureContext: the CA, its own P-256 key and certificate
//               (docs/PROTOCOL.md §2.1; Node attaches a client certificate only through one)
//   tls         its TLS connection to the broker, CONNECT answered (OpenSSL's SSL object and
//               session with the broker's certificate, Node's TLSWrap and its BIO buffers)
//   tcp         the same connection without TLS (the plain fleet's)
// Prints figures only; asserts nothing.
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect, createSecureContext, type SecureContext } from "node:tls";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { nodeSigner } from "../../attestation/index.js";
import { provisionDevice } from "../../agent/factory.js";
import { DeviceFolder } from "../../agent/device-folder.js";
import { MemoryStorage } from "../../agent/storage.js";
import { DeviceSession } from "../../agent/session.js";
import { ImeiSource } from "../conformance/session.js";
import { encodeConnect } from "../mqtt-lite.js";
import { certificateIssuer } from "../../transport/pki.js";
import { execFile } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startMosquittoProcess, type BrokerProcess } from "../broker-process.js";
import { startSecureMosquittoProcess, type SecureBrokerProcess } from "../secure-broker-process.js";
import { TrustedApp } from "../../agent/trusted-app.js";

export interface HandsetParts {
  readonly taKib: number;
  readonly contextKib: number;
  readonly tlsKib: number;
  readonly tcpKib: number;
}

async function settle(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 50));
  }
  return process.memoryUsage().rss;
}

/** Resident growth per item, KiB, of making `n` items (kept alive until measured). */
async function perItem<T>(n: number, make: () => Promise<T[]>): Promise<{ kib: number; items: T[] }> {
  const before = await settle();
  const items = await make();
  const after = await settle();
  return { kib: (after - before) / 1024 / n, items };
}

/** Opens a connection, sends CONNECT and waits for a CONNACK that accepts it (MQTT 5 §3.2). */
function mqttConnect(open: () => Socket, ready: string, did: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = open();
    s.once("error", reject);
    s.once(ready, () => s.write(encodeConnect({ clientId: `at-d-${did}`, protocolVersion: 5, keepaliveS: 600, will: { topic: `at/v1/d/${did}/status`, payload: new Uint8Array(8), retain: true } })));
    s.once("data", (b: Buffer) => (b[0] === 0x20 && b[3] === 0 ? resolve(s) : reject(new Error(`CONNACK refused: ${b.subarray(0, 4).toString("hex")}`))));
  });
}

async function pool<T, R>(items: readonly T[], k: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(k, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!);
    }
  }));
  return out;
}

export async function measureHandsetParts(n: number, module: WebAssembly.Module, plain: BrokerProcess, secure: SecureBrokerProcess): Promise<HandsetParts> {
  // The Trusted App: provisioned first (the factory's garbage is collected before measuring).
  const oem = nodeSigner(generateKeyPairSync("ed25519").privateKey);
  const src = new ImeiSource();
  const flashes = await pool(Array.from({ length: n }, () => src.next()), 8, async (imei) => {
    const flash = new MemoryStorage();
    await provisionDevice(new DeviceFolder(flash), module, { imei, model: "Fleet Phone", oem, registryKeys: [new Uint8Array(32).fill(1)] });
    return flash;
  });
  const ta = await perItem(n, () => pool(flashes, 8, async (flash) => {
    const s = await DeviceSession.boot(new DeviceFolder(flash), module);
    s.attest(randomBytes(32));
    return s;
  }));

  // Identities as a factory issues them (CN = did), then one context and one connection each.
  const issuer = await certificateIssuer(secure.ca);
  const ids = await pool(ta.items, 8, async (s) => ({ did: s.did, ...(await issuer.issue({ cn: s.did, usage: "client" })) }));
  const ca = secure.ca.certPem;
  const contexts = await perItem(n, async () => ids.map((id) => createSecureContext({ ca, cert: id.certPem, key: id.keyPem, minVersion: "TLSv1.2" })));
  const url = (b: BrokerProcess) => new URL(b.url);
  const tls = await perItem(n, () => pool(ids.map((id, i) => [id.did, contexts.items[i]!] as [string, SecureContext]), 32, ([did, secureContext]) =>
    mqttConnect(() => tlsConnect({ host: url(secure).hostname, port: Number(url(secure).port), secureContext, rejectUnauthorized: true }), "secureConnect", did)));
  const tcp = await perItem(n, () => pool(ids, 32, (id) => mqttConnect(() => tcpConnect({ host: url(plain).hostname, port: Number(url(plain).port) }), "connect", id.did)));
  for (const s of [...tls.items, ...tcp.items]) s.destroy();
  return { taKib: ta.kib, contextKib: contexts.kib, tlsKib: tls.kib, tcpKib: tcp.kib };
}

/** measureHandsetParts in a fresh node process with --expose-gc, on its own pair of brokers. */
export function handsetPartsInChild(n: number): Promise<HandsetParts> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url), String(n)], { timeout: 600_000 }, (e, stdout, stderr) => {
      if (e) return reject(new Error(`fleet-memory.js failed: ${e.message}\n${stderr}`));
      resolve(JSON.parse(stdout) as HandsetParts);
    });
  });
}

async function main(n: number): Promise<void> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError("usage: node --expose-gc fleet-memory.js N (a positive integer)");
  const module = await TrustedApp.compile();
  const plain = await startMosquittoProcess();
  const secure = await startSecureMosquittoProcess({ acl: "acl" }).catch(async (e) => (await plain.stop(), Promise.reject(e)));
  try {
    process.stdout.write(JSON.stringify(await measureHandsetParts(n, module, plain, secure)) + "\n");
  } finally {
    await Promise.allSettled([plain.stop(), secure.stop()]);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(Number(process.argv[2]));
