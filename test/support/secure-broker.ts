// A real Mosquitto configured from the shipped files deploy/mosquitto/ (mosquitto.conf and acl or
// acl-lab; or mosquitto-password.conf), templated with paths and the port only: the files under
// /etc/mosquitto/antitheft/, /var/lib/mosquitto/ and /var/log/mosquitto/ go to a temp folder,
// `listener 8883` becomes a free loopback port (simulator/secure-broker-process.ts
// templateMosquittoConf, which the benchmarks use too).
// The PKI is made by the project's own code (transport/pki-dir.ts): a CA, the broker's server
// certificate for 127.0.0.1/localhost, and client certificates on demand.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitUntilAccepting, type BrokerCase, type BrokerHandle } from "./brokers.js";
import { initPki, issueFromDir, loadCa, revokeInDir } from "../../transport/pki-dir.js";
import { issueCertificate, createCa, type IssueInput } from "../../transport/pki.js";
import { loadClientTls, type ClientTls } from "../../transport/client-tls.js";
import type { MqttSecurity } from "../../transport/mqtt-options.js";
import { DEPLOY_MOSQUITTO, templateMosquittoConf } from "../../simulator/secure-broker-process.js";

export const DEPLOY_DIR = DEPLOY_MOSQUITTO;

export interface SecureBrokerOptions {
  /** "tls" (default): mosquitto.conf, mutual TLS; "password": mosquitto-password.conf. */
  readonly mode?: "tls" | "password";
  /** The ACL file of deploy/mosquitto/ to use (default "acl"). */
  readonly acl?: "acl" | "acl-lab";
  /** username -> password lines for the password file (mode "password"), made with mosquitto_passwd. */
  readonly passwords?: Readonly<Record<string, string>>;
}

export interface Identity {
  readonly cert: string;
  readonly key: string;
}

export class SecureBroker {
  #proc: ChildProcess | undefined;
  #stopped = false;

  private constructor(
    /** The temp folder: the PKI (ca.crt, ca.key, crl.pem), the broker's files, the config. */
    readonly dir: string,
    readonly port: number,
    readonly mode: "tls" | "password",
  ) {}

  /** mqtts://127.0.0.1:<port> */
  get url(): string {
    return `mqtts://127.0.0.1:${this.port}`;
  }

  get caFile(): string {
    return join(this.dir, "ca.crt");
  }

  static async start(o: SecureBrokerOptions = {}): Promise<SecureBroker> {
    const mode = o.mode ?? "tls";
    const dir = await mkdtemp(join(tmpdir(), "at-secure-mosquitto-"));
    try {
      await initPki(dir, "test transport CA");
      const server = await issueFromDir(dir, { cn: "localhost", usage: "server", hosts: ["127.0.0.1", "localhost"] });
      await writeFile(join(dir, "broker.crt"), server.certPem);
      await writeFile(join(dir, "broker.key"), server.keyPem, { mode: 0o600 });
      const acl = await readFile(join(DEPLOY_DIR, o.acl ?? "acl"), "utf8");
      await writeFile(join(dir, "acl"), acl);
      if (mode === "password") {
        const lines: string[] = [];
        for (const [u, p] of Object.entries(o.passwords ?? {})) lines.push(`${u}:${p}`);
        await writeFile(join(dir, "passwd"), lines.join("\n") + "\n", { mode: 0o600 });
        // mosquitto_passwd -U hashes a plain-text user:password file in place.
        await run("mosquitto_passwd", ["-U", join(dir, "passwd")]);
      }
      for (let attempt = 0; ; attempt++) {
        const port = await freePort();
        const b = new SecureBroker(dir, port, mode);
        try {
          await b.#launch();
          return b;
        } catch (e) {
          if (attempt < 2 && /address already in use/i.test(String(e))) continue;
          throw e;
        }
      }
    } catch (e) {
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
  }

  async #launch(): Promise<void> {
    const shipped = await readFile(join(DEPLOY_DIR, this.mode === "tls" ? "mosquitto.conf" : "mosquitto-password.conf"), "utf8");
    await writeFile(join(this.dir, "mosquitto.conf"), templateMosquittoConf(shipped, this.dir, this.port));
    const p = spawn("mosquitto", ["-c", join(this.dir, "mosquitto.conf")], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    p.stderr?.on("data", (d: Buffer) => void (stderr += d.toString()));
    process.once("exit", () => p.kill("SIGKILL"));
    try {
      await waitUntilAccepting("127.0.0.1", this.port, 10_000, () => p.exitCode === null && p.signalCode === null);
    } catch (e) {
      p.kill("SIGKILL");
      throw new Error(`mosquitto (shipped config) did not start: ${(e as Error).message}\n${stderr}${await this.log()}`);
    }
    this.#proc = p;
  }

  /** The broker's log so far. */
  log(): Promise<string> {
    return readFile(join(this.dir, "mosquitto.log"), "utf8").catch(() => "");
  }

  /** Issues a client certificate under the broker's CA; returns the file paths. */
  async issue(name: string, input: Omit<IssueInput, "usage"> & { usage?: IssueInput["usage"] }): Promise<Identity> {
    const issued = await issueFromDir(this.dir, { usage: "client", ...input });
    return this.#write(name, issued);
  }

  /** A client certificate from another CA, unknown to the broker. */
  async issueUnderUnknownCa(name: string, cn: string): Promise<Identity> {
    const other = await createCa("an unknown CA");
    return this.#write(name, await issueCertificate(other, { cn, usage: "client" }));
  }

  async #write(name: string, issued: { certPem: string; keyPem: string }): Promise<Identity> {
    const cert = join(this.dir, `${name}.crt`);
    const key = join(this.dir, `${name}.key`);
    await writeFile(cert, issued.certPem);
    await writeFile(key, issued.keyPem, { mode: 0o600 });
    return { cert, key };
  }

  /** Revokes `id` in the CA and reloads the broker (SIGHUP re-reads crlfile for new connections). */
  async revoke(id: Identity): Promise<void> {
    await revokeInDir(this.dir, await readFile(id.cert, "utf8"));
    await this.reload();
  }

  /** Stops Mosquitto and starts it again on the same port and files (persistent sessions kept). */
  async restart(): Promise<void> {
    const p = this.#proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      const gone = new Promise<void>((r) => p.once("exit", () => r()));
      p.kill("SIGTERM");
      await gone;
    }
    await this.#launch();
  }

  async reload(): Promise<void> {
    const p = this.#proc;
    if (!p) return;
    const before = (await this.log()).length;
    p.kill("SIGHUP");
    // Mosquitto logs "Reloading config." when it handles the signal.
    for (let i = 0; i < 200 && !(await this.log()).slice(before).includes("Reloading"); i++) await new Promise((r) => setTimeout(r, 10));
  }

  /** MqttSecurity for an identity (checked as a client would: loadClientTls). */
  security(id?: Identity, ca = this.caFile): MqttSecurity {
    const tls: ClientTls = loadClientTls({ ca, ...(id ? { cert: id.cert, key: id.key } : {}) });
    return { tls };
  }

  get ca(): { certPem: string; keyPem: string } {
    return loadCa(this.dir);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const p = this.#proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      const gone = new Promise<void>((r) => p.once("exit", () => r()));
      p.kill("SIGTERM");
      const t = setTimeout(() => p.kill("SIGKILL"), 3000);
      await gone;
      clearTimeout(t);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    p.stderr?.on("data", (d: Buffer) => void (err += d.toString()));
    p.on("error", reject);
    p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${err}`))));
  });
}

/**
 * The end-to-end suites' case for the shipped configuration: Mosquitto with mosquitto.conf and
 * acl-lab (the production ACL plus the lab harness at-lab, which the suites' observer is), MQTT 5,
 * every party with its own certificate: the registry at-r-registry, each handset its device id.
 */
export const SECURE_BROKER_CASE: BrokerCase = {
  name: "Mosquitto, mutual TLS and the shipped ACL, MQTT 5",
  kind: "mosquitto",
  protocolVersion: 5,
  tool: "mosquitto",
  async start(): Promise<BrokerHandle> {
    const b = await SecureBroker.start({ acl: "acl-lab" });
    const registry = await b.issue("registry", { cn: "at-r-registry" });
    const lab = await b.issue("lab", { cn: "at-lab" });
    return {
      kind: "mosquitto",
      host: "127.0.0.1",
      port: b.port,
      url: b.url,
      versions: [4, 5],
      restart: () => b.restart(),
      stop: () => b.stop(),
      secured: {
        registryName: "registry",
        registryArgs: ["--ca", b.caFile, "--cert", registry.cert, "--cert-key", registry.key],
        observer: b.security(lab),
        deviceCa: b.ca,
      },
    };
  },
};
