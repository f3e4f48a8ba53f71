// The embedded MQTT broker (aedes, MQTT 3.1.1) for runs with no external services: the demo,
// the benchmarks, the fleet simulator, the conformance suite's embedded site and the tests. It
// listens on the loopback interface only, on a free port unless told otherwise, keeps sessions
// and retained messages in memory, and can restart: every connection drops and it listens
// again on the same port with its sessions and retained messages kept, as a persistent broker
// does across a restart.
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { Aedes } from "aedes";

export interface EmbeddedBroker {
  /** mqtt://<host>:<port> */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Number of MQTT clients connected now. */
  readonly clients: number;
  /** The aedes instance (tests watch its events). */
  readonly aedes: Aedes;
  /** Drops every connection and listens again on the same port; sessions and retained messages stay. */
  restart(): Promise<void>;
  /** Drops every connection and stops. Idempotent. */
  stop(): Promise<void>;
}

export async function startEmbeddedBroker(options: { host?: string; port?: number } = {}): Promise<EmbeddedBroker> {
  const host = options.host ?? "127.0.0.1";
  const aedes = await Aedes.createBroker();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = options.port ?? 0;

  const listen = async (): Promise<void> => {
    const s = createServer((socket) => {
      // MQTT packets are small and latency matters: no Nagle delay (it meets the peer's delayed
      // ACK and stalls a forwarded message ~40 ms behind an unacknowledged PUBACK).
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      aedes.handle(socket);
    });
    // Thousands of clients connect at once in a fleet: let the accept queue take them.
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen({ port, host, backlog: 4096 }, () => {
        s.off("error", reject);
        resolve();
      });
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  };
  const closeServer = async (): Promise<void> => {
    const s = server;
    server = undefined;
    if (!s) return;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  };

  await listen();
  let stopped: Promise<void> | undefined;
  return {
    get url() {
      return `mqtt://${host}:${port}`;
    },
    host,
    get port() {
      return port;
    },
    get clients() {
      return aedes.connectedClients;
    },
    aedes,
    async restart() {
      if (stopped) throw new Error("the broker is stopped");
      await closeServer();
      await listen();
    },
    stop() {
      stopped ??= (async () => {
        await closeServer();
        await new Promise<void>((r) => aedes.close(() => r()));
      })();
      return stopped;
    },
  };
}
