// The witness's HTTP interface (C2SP tlog-witness): POST <prefix>/add-checkpoint, nothing else.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { MAX_REQUEST_BYTES, type Witness } from "./witness.js";

export interface WitnessServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function serveWitness(w: Witness, o: { host?: string; port?: number; prefix?: string } = {}): Promise<WitnessServer> {
  const path = `${(o.prefix ?? "").replace(/\/$/, "")}/add-checkpoint`;
  const server: Server = createServer((req, res) => {
    const reply = (status: number, type: string, body: string) => {
      res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
      res.end(body);
    };
    if (new URL(req.url ?? "/", "http://x").pathname !== path) return reply(404, "text/plain; charset=utf-8", "not found\n");
    if (req.method !== "POST") return reply(405, "text/plain; charset=utf-8", "use POST\n");
    const chunks: Buffer[] = [];
    let n = 0;
    req.on("data", (c: Buffer) => {
      n += c.length;
      if (n > MAX_REQUEST_BYTES) {
        reply(400, "text/plain; charset=utf-8", "the request is too large\n");
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => {
      if (n > MAX_REQUEST_BYTES) return;
      const a = w.addCheckpoint(new Uint8Array(Buffer.concat(chunks)));
      reply(a.status, a.type, a.body);
    });
    req.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(o.port ?? 0, o.host ?? "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${o.host ?? "127.0.0.1"}:${port}${(o.prefix ?? "").replace(/\/$/, "")}`,
    close: () => new Promise<void>((r) => (server.close(() => r()), server.closeAllConnections())),
  };
}
