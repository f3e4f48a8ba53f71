// A TCP proxy in its own process that can cut the network silently: `cut` stops forwarding in
// both directions and keeps every socket open (no FIN, no RST - a cable pulled, a firewall
// dropping packets), new connections are accepted and ignored; `heal` destroys what was cut and
// forwards new connections again. Its own process, because the registry's PostgreSQL store
// blocks its thread while it waits for an answer (store/pg/sync-client.ts).
// Run: node cut-proxy.js <target port>; prints the listening port, then reads `cut` / `heal`
// lines on stdin and answers each with `ok`.
import { spawn, type ChildProcess } from "node:child_process";
import { createConnection, createServer, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface CutProxy {
  readonly port: number;
  cut(): Promise<void>;
  heal(): Promise<void>;
  stop(): void;
}

/** Starts the proxy process in front of 127.0.0.1:`target`. */
export async function startCutProxy(target: number): Promise<CutProxy> {
  const child: ChildProcess = spawn(process.execPath, [fileURLToPath(import.meta.url), String(target)], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  const next = () => new Promise<string>((resolve) => lines.once("line", resolve));
  const port = Number(await next());
  const say = async (what: string) => {
    const answer = next();
    child.stdin!.write(`${what}\n`);
    if ((await answer) !== "ok") throw new Error(`the proxy did not ${what}`);
  };
  return { port, cut: () => say("cut"), heal: () => say("heal"), stop: () => void child.kill() };
}

function main(target: number): void {
  let cut = false;
  const held = new Set<Socket>();
  const server = createServer((inbound) => {
    held.add(inbound);
    inbound.on("close", () => held.delete(inbound));
    inbound.on("error", () => {});
    if (cut) return; // accepted, never answered
    const outbound = createConnection(target, "127.0.0.1");
    held.add(outbound);
    outbound.on("close", () => (held.delete(outbound), cut || inbound.destroy()));
    outbound.on("error", () => {});
    inbound.on("close", () => cut || outbound.destroy());
    inbound.on("data", (d) => cut || outbound.write(d));
    outbound.on("data", (d) => cut || inbound.write(d));
  });
  server.listen(0, "127.0.0.1", () => process.stdout.write(`${(server.address() as { port: number }).port}\n`));
  createInterface({ input: process.stdin }).on("line", (l) => {
    if (l === "cut") cut = true;
    if (l === "heal") {
      cut = false;
      for (const s of held) s.destroy();
      held.clear();
    }
    process.stdout.write("ok\n");
  });
  process.stdin.on("end", () => process.exit(0));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main(Number(process.argv[2]));
