// Test support: C2SP tlog-witnesses on loopback HTTP, each with its own SQLite state file, that a
// test points registries at (and may stop and start again on the same port and state).
import { join } from "node:path";
import { generateEd25519 } from "../../attestation/index.js";
import { signingKey } from "../../registry/keys.js";
import { cosignatureSigner, cosignerKey } from "../../registry/ledger/cosignature.js";
import { parseVerifierKey } from "../../registry/ledger/note.js";
import { Witness } from "../../registry/ledger/witness.js";
import { SqliteWitnessStore } from "../../registry/ledger/witness-store.js";
import { serveWitness, type WitnessServer } from "../../registry/ledger/witness-http.js";

export interface TestWitness {
  readonly name: string;
  /** Its cosigner key (C2SP tlog-cosignature vkey). */
  readonly key: string;
  url: string;
  follow(vkey: string): void;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startWitness(dir: string, name: string): Promise<TestWitness> {
  const k = signingKey(generateEd25519().privateKey);
  const store = new SqliteWitnessStore(join(dir, `${name.replace(/\W/g, "_")}.sqlite`));
  const w = new Witness({ cosigner: cosignatureSigner(name, k.signer, Date.now), logs: [], store, now: Date.now });
  let server: WitnessServer | undefined = await serveWitness(w);
  const port = Number(new URL(server.url).port);
  const t: TestWitness = {
    name, key: cosignerKey(name, k.publicKey), url: server.url,
    follow(vkey) {
      const v = parseVerifierKey(vkey);
      if (!v.ok) throw new Error(v.reason);
      w.follow(v.value);
    },
    async stop() {
      await server?.close();
      server = undefined;
    },
    async start() {
      server ??= await serveWitness(w, { port });
      t.url = server.url;
    },
  };
  return t;
}
