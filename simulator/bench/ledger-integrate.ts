// ledger_integrate_p99_ms (docs/LEDGER.md §9): the time from a flag raised at a registry (its
// transaction committed with the ledger entry) to a checkpoint that includes it carrying the
// cosignatures of two C2SP tlog-witnesses (each an HTTP server on loopback with its own SQLite
// state, synchronous=FULL). Flags one after another; p50 and p99 over the run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateEd25519 } from "../../attestation/index.js";
import { signingKey } from "../../registry/keys.js";
import { Registry } from "../../registry/registry.js";
import { raiseFlag, REGISTRY_PARTY } from "../../registry/flagging.js";
import { cosignatureSigner, cosignerKey } from "../../registry/ledger/cosignature.js";
import { parseVerifierKey } from "../../registry/ledger/note.js";
import { Witness } from "../../registry/ledger/witness.js";
import { SqliteWitnessStore } from "../../registry/ledger/witness-store.js";
import { serveWitness } from "../../registry/ledger/witness-http.js";

function imeiOf(i: number): string {
  const tacSnr = `35290611${String(i % 1_000_000).padStart(6, "0")}`;
  let sum = 0;
  for (let k = 0; k < 14; k++) {
    let d = tacSnr.charCodeAt(13 - k) - 48;
    if (k % 2 === 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return tacSnr + String((10 - (sum % 10)) % 10);
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

export async function benchIntegrate(flags = Number(process.env.LEDGER_INTEGRATE_FLAGS ?? 200)): Promise<{ p50: number; p99: number; flags: number }> {
  const dir = mkdtempSync(join(tmpdir(), "antitheft-integrate-"));
  const witnesses = await Promise.all(
    [1, 2].map(async (n) => {
      const k = signingKey(generateEd25519().privateKey);
      const name = `w${n}.bench.example/witness`;
      const store = new SqliteWitnessStore(join(dir, `w${n}.sqlite`));
      const w = new Witness({ cosigner: cosignatureSigner(name, k.signer, Date.now), logs: [], store, now: Date.now });
      const server = await serveWitness(w);
      return { w, store, server, key: cosignerKey(name, k.publicKey) };
    }),
  );
  const r = new Registry({
    db: join(dir, "registry.sqlite"),
    registryKey: signingKey(generateEd25519().privateKey),
    oemRoots: [signingKey(generateEd25519().privateKey).publicKey],
    ledger: { federationKey: new Uint8Array(32).fill(7), name: "bench", witnesses: witnesses.map((x) => ({ url: x.server.url, key: x.key })) },
  });
  await r.start();
  try {
    const ledger = r.ledger!;
    const v = parseVerifierKey(ledger.verifierKey);
    if (!v.ok) throw new Error(v.reason);
    for (const x of witnesses) x.w.follow(v.value);
    const ms: number[] = [];
    for (let i = 0; i < flags + 10; i++) {
      const did = (i + 1).toString(16).padStart(32, "0");
      const imei = imeiOf(i);
      r.store.tx(() => {
        r.store.devices.insert({ did, deviceKey: new Uint8Array(32).fill(i % 251), endorsement: new Uint8Array([1]), oemid: new Uint8Array(3), hwmodel: new Uint8Array([0x41]), at: 1, bootcount: 1, lockState: 0, lastSeq: 0, tampered: false, measurement: null });
        r.store.imeis.bind(imei, did, 1, 1);
      });
      const t0 = performance.now();
      r.store.tx(() => raiseFlag(r.ctx, did, imei, "stolen", REGISTRY_PARTY, "bench"));
      const size = ledger.local.size();
      for (;;) {
        const c = ledger.cosignedCheckpoint();
        if (c && c.size >= size && c.cosignatures === 2) break;
        if (performance.now() - t0 > 30_000) throw new Error(`flag ${i} not cosigned by both witnesses within 30 s`);
        await new Promise((res) => setImmediate(res));
      }
      if (i >= 10) ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    return { p50: percentile(ms, 50), p99: percentile(ms, 99), flags };
  } finally {
    await r.stop();
    for (const x of witnesses) {
      await x.server.close();
      x.store.close();
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
