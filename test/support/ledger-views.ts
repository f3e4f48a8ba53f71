// Test support: a hostile log operator that shows an auditor whichever view it likes. It holds
// its log's real signing key, builds histories in memory (MemoryTree, the same RFC 9162 code the
// registry uses) and answers the ledger's HTTP resources (docs/LEDGER.md §7) through the `fetch`
// the auditor is given - so a test can serve a newer head, then an older one, then a branch.
import { generateEd25519, toHex } from "../../attestation/index.js";
import { signingKey, type SigningKey } from "../../registry/keys.js";
import { signEntry } from "../../registry/ledger/entry.js";
import { signTreeHead, type SignedTreeHead } from "../../registry/ledger/tree-head.js";
import { MemoryTree, consistencyProof, inclusionProof } from "../../registry/ledger/merkle.js";
import { LEDGER_PREFIX } from "../../registry/ledger/http.js";

const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

/** One history of the log: its entries and its tree. */
export class History {
  readonly entries: Uint8Array[] = [];
  readonly tree = new MemoryTree();
  constructor(readonly key: SigningKey, from?: History, upTo = 0) {
    for (const e of from?.entries.slice(0, upTo) ?? []) this.add(e);
  }
  /** Appends `n` signed stolen flags, the `salt` making this branch's entries its own. */
  grow(n: number, salt: number): this {
    for (let i = 0; i < n; i++) {
      const seq = this.entries.length;
      this.add(signEntry({ log: this.key.kid, seq, ts: 1_700_000_000_000 + salt * 1000 + seq, ev: "stolen", sub: [new Uint8Array(32).fill(salt)], fk: new Uint8Array(8), by: "authority" }, this.key.signer));
    }
    return this;
  }
  add(e: Uint8Array): void {
    this.entries.push(e);
    this.tree.append(e);
  }
  head(size = this.entries.length, ts = 1_700_000_000_000 + size): SignedTreeHead {
    return signTreeHead({ log: this.key.kid, size, root: this.tree.root(size), ts }, this.key.signer);
  }
}

/** A registry URL whose answers come from the view set last (`show`). */
export class HostileLog {
  readonly key = signingKey(generateEd25519().privateKey);
  readonly url = "http://hostile.invalid";
  #view: { history: History; head: SignedTreeHead } | undefined;

  get target() {
    return { url: this.url, publicKey: this.key.publicKey };
  }

  history(): History {
    return new History(this.key);
  }

  show(history: History, head = history.head()): void {
    this.#view = { history, head };
  }

  readonly fetch: typeof fetch = async (input) => {
    const url = new URL(String(input instanceof Request ? input.url : input));
    const v = this.#view!;
    const q = (k: string) => Number(url.searchParams.get(k));
    const ok = (body: Record<string, unknown>) => new Response(JSON.stringify({ ok: true, ...body }), { status: 200 });
    const r = url.pathname.slice(LEDGER_PREFIX.length);
    const log = toHex(this.key.kid);
    switch (r) {
      case "sth":
        return ok({ log, size: v.head.size, root: toHex(v.head.root), ts: v.head.ts, sth: b64(v.head.cose) });
      case "heads":
        return ok({ heads: [] });
      case "alarms":
        return ok({ alarms: [] });
      case "entries": {
        const start = q("start");
        const end = Math.min(url.searchParams.has("end") ? q("end") : v.history.entries.length, v.history.entries.length);
        return ok({ log, start, size: v.history.entries.length, entries: v.history.entries.slice(start, end).map(b64) });
      }
      case "proof/consistency":
        if (q("second") > v.history.entries.length) return new Response(JSON.stringify({ ok: false, code: "E_BAD_REQUEST" }), { status: 400 });
        return ok({ path: consistencyProof(v.history.tree, q("first"), q("second")).map(toHex) });
      case "proof/inclusion":
        return ok({ path: inclusionProof(v.history.tree, q("index"), q("size")).map(toHex) });
      default:
        return new Response(JSON.stringify({ ok: false, code: "E_NOT_FOUND" }), { status: 404 });
    }
  };
}
