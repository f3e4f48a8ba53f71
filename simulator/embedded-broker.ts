// The embedded MQTT broker (aedes, MQTT 3.1.1) for runs with no external services: the demo,
// the lock benchmark and, later, the fleet simulator. It listens on the loopback interface only,
// on a free port unless told otherwise, and keeps sessions and retained messages in memory.
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { Aedes } from "aedes";

export interface EmbeddedBroker {
  /** mqtt://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** Number of MQTT clients connected now. */
  readonly clients: number;
  /** Drops every connection and stops. Idempotent. */
  stop(): Promise<void>;
}

export async function startEmbeddedBroker(options: { host?: string; port?: number } = {}): Promise<EmbeddedBroker> {
  const host = options.host ?? "127.0.0.1";
  const aedes = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    // MQTT packets are small and latency matters: no Nagle delay (it meets the peer's delayed
    // ACK and stalls a forwarded message ~40 ms behind an unacknowledged PUBACK).
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    aedes.handle(socket);
  });
  // Thousands of clients connect at once in a fleet: let the accept queue take them.
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port: options.port ?? 0, host, backlog: 4096 }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let stopped: Promise<void> | undefined;
  return {
    url: `mqtt://${host}:${port}`,
    port,
    get clients() {
      return aedes.connectedClients;
    },
    stop() {
      stopped ??= (async () => {
        for (const s of sockets) s.destroy();
        await new Promise<void>((r) => server.close(() => r()));
        await new Promise<void>((r) => aedes.close(() => r()));
      })();
      return stopped;
    },
  };
}
