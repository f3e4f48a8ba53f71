// Mosquitto with the shipped configuration (deploy/mosquitto/), for fleets and benchmarks over
// mutual TLS: the config and ACL templated with paths and the port only (files of
// /etc/mosquitto/antitheft/, /var/lib/mosquitto/ and /var/log/mosquitto/ in a temp folder; a free
// loopback port for `listener 8883`), a fresh CA with the broker's certificate made by the
// project's own PKI code (transport/pki-dir.ts).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { initPki, issueFromDir, loadCa } from "../transport/pki-dir.js";
import type { CaMaterial } from "../transport/pki.js";
import { freePort, type BrokerProcess } from "./broker-process.js";

/** deploy/mosquitto/ in the package. */
export const DEPLOY_MOSQUITTO = fileURLToPath(new URL("../../deploy/mosquitto/", import.meta.url));

/**
 * The shipped `conf` text with its paths under `dir` and its listener on 127.0.0.1:`port`.
 * Started as root, Mosquitto would drop to user "mosquitto", who cannot read a temp folder: a
 * `user` line keeps the current user.
 */
export function templateMosquittoConf(conf: string, dir: string, port: number): string {
  const out = conf
    .replaceAll("/etc/mosquitto/antitheft/", `${dir}/`)
    .replaceAll("/var/lib/mosquitto/", `${dir}/`)
    .replaceAll("/var/log/mosquitto/mosquitto.log", join(dir, "mosquitto.log"))
    .replace(/^listener 8883$/m, `listener ${port} 127.0.0.1`);
  return out + (process.getuid?.() === 0 ? `\nuser ${userInfo().username}\n` : "\n");
}

export interface SecureBrokerProcess extends BrokerProcess {
  /** The temp folder: the CA (ca.crt, ca.key, crl.pem), the broker's files and config. */
  readonly dir: string;
  readonly caFile: string;
  readonly ca: CaMaterial;
}

/** Mosquitto with deploy/mosquitto/mosquitto.conf and the given ACL file, on a free loopback port. */
export async function startSecureMosquittoProcess(o: { acl?: "acl" | "acl-lab" } = {}): Promise<SecureBrokerProcess> {
  const dir = await mkdtemp(join(tmpdir(), "antitheft-mosquitto-tls-"));
  await initPki(dir, "antitheft transport CA");
  const server = await issueFromDir(dir, { cn: "localhost", usage: "server", hosts: ["127.0.0.1", "localhost"] });
  await writeFile(join(dir, "broker.crt"), server.certPem);
  await writeFile(join(dir, "broker.key"), server.keyPem, { mode: 0o600 });
  await writeFile(join(dir, "acl"), readFileSync(join(DEPLOY_MOSQUITTO, o.acl ?? "acl-lab")));
  const port = await freePort();
  const conf = templateMosquittoConf(readFileSync(join(DEPLOY_MOSQUITTO, "mosquitto.conf"), "utf8"), dir, port).replace(/^log_type (warning|notice)$/gm, "");
  await writeFile(join(dir, "mosquitto.conf"), conf);
  const p = spawn("mosquitto", ["-c", join(dir, "mosquitto.conf")], { stdio: "ignore" });
  const alive = () => p.exitCode === null && p.signalCode === null;
  const stop = async () => {
    if (alive()) {
      const gone = new Promise<void>((r) => p.once("exit", () => r()));
      p.kill("SIGTERM");
      const t = setTimeout(() => p.kill("SIGKILL"), 3000);
      await gone;
      clearTimeout(t);
    }
    await rm(dir, { recursive: true, force: true });
  };
  for (const end = Date.now() + 10_000; ; ) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = createConnection({ host: "127.0.0.1", port });
      c.once("connect", () => (c.destroy(), resolve(true)));
      c.once("error", () => resolve(false));
    });
    if (ok) break;
    if (!alive() || Date.now() > end) {
      await stop();
      throw new Error(`mosquitto with the shipped configuration did not start on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  const rssKiB = () => {
    try {
      return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      return 0;
    }
  };
  return { kind: "mosquitto", url: `mqtts://127.0.0.1:${port}`, versions: [4, 5], rssKiB, stop, dir, caFile: join(dir, "ca.crt"), ca: loadCa(dir) };
}
