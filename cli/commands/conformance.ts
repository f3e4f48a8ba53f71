// `antitheft conformance`: runs the conformance catalogue (docs/CONFORMANCE.md) against the
// reference registry on the embedded or a given broker, or against a third-party registry and/or
// third-party handsets, and writes a console table, JSON and JUnit XML. Exit 1 on any failure.
import { readFileSync } from "node:fs";
import type { Command } from "../command.js";
import { CliError } from "../command.js";
import { hexArg, loadTaModule, parseFlags } from "./device-common.js";
import { privateKeyFromPem } from "../../attestation/index.js";
import { loadPublicKey } from "../../registry/keys.js";
import { checkRegistryKey } from "../preflight.js";
import { LAB_TLS_FLAGS, LAB_TLS_USAGE, labTlsFromFlags } from "./lab-tls-flags.js";
import { toolVersion } from "../version.js";
import { loadTlsFlags } from "./transport-flags.js";
import { fetchWithCa } from "../../transport/https.js";

const usage = `Usage: antitheft conformance [--report DIR] [--scenario NAME,...|all] [--broker URL]
                             [--mqtt-version 4|5] [--devices N] [--timeout MS] [--workers K]
                             [--registry URL --registry-pub FILE --oem-key FILE [--authority-key FILE]
                              [--measurement HEX] [--restart-registry CMD] [--restart-broker CMD]
                              [--ranged-oem-key FILE:TAC]
                              [--ledger-peer-key FILE --ledger-peer-key FILE --federation-key HEX|FILE]]
                             [--driver MODULE] [--transport mqtt.js|lite] [--self-test] [--list]
                             [--ca FILE --device-ca DIR --cert FILE --key FILE]

Runs the conformance scenarios (docs/CONFORMANCE.md) and reports each requirement they check.
Without --registry the reference registry runs in this process: on the embedded aedes broker
(MQTT 3.1.1), or on --broker. With --registry the suite tests that registry: it must use
--broker, pin the OEM key --oem-key (the suite is the factory), and be the owner of the
command key whose public half is --registry-pub (provisioned into the suite's handsets).

  --report DIR         write summary.txt, conformance.json and junit.xml into DIR
  --scenario           scenario names, comma-separated, or "all" (default); see --list
  --broker URL         an MQTT broker (mqtt://HOST:PORT, or mqtts:// with the four flags below);
                       default: the embedded one
  --mqtt-version       4 (MQTT 3.1.1, default) or 5: what the suite's clients and handsets speak
  --devices N          handsets in the mass block (default 20)
  --timeout MS         the longest wait for anything the protocol promises "soon" (default 5000)
  --workers K          run the mass block's handsets in K worker threads (default 0)
  --registry URL       a third-party registry's HTTP base URL (https:// under a private CA: give
                       that CA's certificate in the environment, ANTITHEFT_REGISTRY_CA=FILE)
  --registry-pub FILE  its command public key (SPKI PEM)
  --oem-key FILE       an OEM private key (PKCS#8 PEM) whose public key the registry pins
  --authority-key FILE a private key the registry pins as an authority (mass block, flag rights)
  --measurement HEX    an agent measurement the registry accepts (the handsets report it)
  --ranged-oem-key FILE:TAC
                       a second OEM private key the registry pins for TAC ranges that include
                       TAC (8 digits) and not the suite's TACs (35xxxxxx): oem-out-of-range
  --restart-registry CMD, --restart-broker CMD
                       shell commands the restart scenarios run (skipped without them,
                       except the embedded broker and registry, which restart themselves)
  --ledger-peer-key FILE
                       twice: private keys (PKCS#8 PEM) of the two member registries the suite
                       plays; the registry pins their public halves as ledger peers (--peer-pub).
                       Without them (and --federation-key) the ledger scenarios are skipped.
                       Over mqtts:// they connect as at-l-conformance-peer-1 and -2 (acl-lab).
  --federation-key HEX|FILE
                       the federation key the registry holds: 64 hex characters, or a file of them
  --driver MODULE      an ES module exporting createDriver(context) -> HandsetDriver: your
                       handsets instead of the suite's virtual ones (docs/CONFORMANCE.md)
  --transport          the virtual handsets' MQTT client: mqtt.js (default) or lite
  --self-test          run the negative controls instead: broken handsets and registries the
                       suite must fail; exit 1 if any passes
  --list               list the scenarios and the requirements they check
${LAB_TLS_USAGE}

The suite's handsets take test IMEIs (TAC 00xxxxxx, GSMA TS.06 Reporting Body Identifier 00): a
registry that pins the suite's OEM key with TAC ranges must allow 00000000-00999999, and its
ledger marks their entries as test entries that peers do not apply (docs/CONFORMANCE.md).

Exit status: 0 when no scenario failed (skips are listed), 1 otherwise, 2 on a usage or
configuration mistake (E_CONFIG: --registry-pub is not the key --registry serves).`;

/** --ranged-oem-key FILE:TAC -> the key and its TAC (PROTOCOL.md §6.1). */
function rangedOemArg(arg: string) {
  const m = /^(.+):([0-9]{8})$/.exec(arg);
  if (!m) throw new CliError("E_USAGE", "--ranged-oem-key must be FILE:TAC (a TAC is 8 digits)", 2);
  return { key: readPrivate(m[1]!, "ranged-oem-key"), tac: m[2]! };
}

function readPrivate(path: string, flag: string) {
  try {
    return privateKeyFromPem(readFileSync(path, "utf8"));
  } catch (e) {
    throw new CliError("E_FILE", `--${flag} ${path}: not a readable Ed25519 PKCS#8 PEM private key (${(e as Error).message})`);
  }
}

/** A federation key: 64 hex characters, given as they are or in a file (as `antitheft registry --federation-key` reads it). */
function federationKeyArg(value: string): Uint8Array {
  let text = value;
  if (!/^[0-9a-fA-F]{64}$/.test(value)) {
    try {
      text = readFileSync(value, "utf8").trim();
    } catch (e) {
      throw new CliError("E_FILE", `--federation-key ${value}: neither 64 hex characters nor a readable file (${(e as Error).message})`);
    }
    if (!/^[0-9a-fA-F]{64}$/.test(text)) throw new CliError("E_FILE", `--federation-key ${value}: the file must hold 64 hexadecimal characters (32 bytes)`);
  }
  return new Uint8Array(Buffer.from(text, "hex"));
}

export const conformance: Command = {
  path: ["conformance"],
  summary: "run the conformance suite against an agent and/or a registry",
  usage,
  async run(argv) {
    const v = parseFlags(
      argv,
      {
        report: { type: "string" },
        scenario: { type: "string" },
        broker: { type: "string" },
        "mqtt-version": { type: "string" },
        devices: { type: "string" },
        timeout: { type: "string" },
        workers: { type: "string" },
        registry: { type: "string" },
        "registry-pub": { type: "string" },
        "oem-key": { type: "string" },
        "authority-key": { type: "string" },
        "ranged-oem-key": { type: "string" },
        measurement: { type: "string" },
        "restart-registry": { type: "string" },
        "restart-broker": { type: "string" },
        "ledger-peer-key": { type: "string", multiple: true },
        "federation-key": { type: "string" },
        driver: { type: "string" },
        transport: { type: "string" },
        "self-test": { type: "boolean" },
        list: { type: "boolean" },
        ...LAB_TLS_FLAGS,
      },
      usage,
    );
    const { SCENARIOS, selectScenarios } = await import("../../simulator/conformance/scenarios/index.js");
    if (v.list) {
      for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(22)} ${s.title}\n${" ".repeat(23)}${s.reqs.join(" ")}${s.needs?.length ? `  (needs: ${s.needs.join(", ")})` : ""}\n`);
      return 0;
    }
    const int = (s: string | undefined, flag: string, def: number, min = 0): number => {
      if (s === undefined) return def;
      const n = Number(s);
      if (!Number.isInteger(n) || n < min) throw new CliError("E_USAGE", `--${flag} must be an integer >= ${min}`, 2);
      return n;
    };
    const version = v["mqtt-version"] ?? "4";
    if (version !== "4" && version !== "5") throw new CliError("E_USAGE", "--mqtt-version must be 4 or 5", 2);
    const mqttVersion = version === "5" ? 5 : 4;
    const transport = v.transport ?? "mqtt.js";
    if (transport !== "mqtt.js" && transport !== "lite") throw new CliError("E_USAGE", "--transport must be mqtt.js or lite", 2);
    const devices = int(v.devices, "devices", 20, 1);
    const timeoutMs = int(v.timeout, "timeout", 5000, 100);
    const workers = int(v.workers, "workers", 0);
    let scenarios;
    try {
      scenarios = selectScenarios(v.scenario ?? "all");
    } catch (e) {
      throw new CliError("E_USAGE", (e as Error).message, 2);
    }
    if (v["ranged-oem-key"] && !v.registry) throw new CliError("E_USAGE", "--ranged-oem-key is for --registry: the embedded registry pins a ranged OEM of its own", 2);
    const peerKeys = v["ledger-peer-key"] ?? [];
    if (peerKeys.length > 0 || v["federation-key"]) {
      if (!v.registry) throw new CliError("E_USAGE", "--ledger-peer-key and --federation-key are for --registry: the embedded registry federates with keys of its own", 2);
      if (peerKeys.length !== 2 || !v["federation-key"]) throw new CliError("E_USAGE", "the ledger scenarios need --ledger-peer-key twice (two member registries) and --federation-key", 2);
    }
    const tls = labTlsFromFlags(v, v.broker);
    if (tls && v["self-test"]) throw new CliError("E_USAGE", "--self-test runs on the embedded broker: leave out --broker and the TLS flags", 2);
    const module = await loadTaModule();

    if (v["self-test"]) {
      const { NEGATIVE_CONTROLS, runNegativeControl } = await import("../../simulator/conformance/faulty/index.js");
      let missed = 0;
      process.stdout.write(`antitheft conformance --self-test: ${NEGATIVE_CONTROLS.length} broken variants the suite must fail\n`);
      for (const c of NEGATIVE_CONTROLS) {
        const r = await runNegativeControl(c, { module, timeoutMs: Math.min(timeoutMs, 2000) });
        if (!r.caught) missed++;
        const got = r.verdict.failure ? `${r.verdict.outcome} ${r.verdict.failure.req ?? ""}`.trim() : r.verdict.outcome;
        process.stdout.write(`  ${r.caught ? "CAUGHT" : "MISSED"}  ${c.scenario.padEnd(20)} ${c.violates.padEnd(10)} ${r.broken}${r.caught ? "" : `  (got: ${got})`}\n`);
      }
      process.stdout.write(missed === 0 ? "every broken variant was caught\n" : `${missed} broken variant(s) passed the suite\n`);
      return missed === 0 ? 0 : 1;
    }

    const { runConformance } = await import("../../simulator/conformance/runner.js");
    const { formatTable, writeReports } = await import("../../simulator/conformance/report.js");
    const { siteTarget, virtualDriver } = await import("../../simulator/conformance/suite.js");
    const external = await import("../../simulator/conformance/external.js");
    const { externalTarget } = external;
    const loadDriver: typeof external.loadDriver = async (path, ctx) => {
      try {
        return await external.loadDriver(path, ctx);
      } catch (e) {
        throw new CliError("E_DRIVER", `cannot load the driver ${path}: ${(e as Error).message}`);
      }
    };
    const { EmbeddedSite } = await import("../../simulator/embedded.js");
    const { TlsVirtualHandsetDriver, labSiteOptions, labPeerSecurity } = await import("../../simulator/lab-tls.js");
    const { WorkerFleet } = await import("../../simulator/fleet.js");
    const { Progress } = await import("../../simulator/progress.js");

    const measurement = v.measurement !== undefined ? hexArg(v.measurement, "measurement", 1, 64) : undefined;
    let site: Awaited<ReturnType<typeof EmbeddedSite.start>> | undefined;
    let target;
    try {
      if (v.registry) {
        if (!v.broker) throw new CliError("E_USAGE", "--registry needs --broker (the broker that registry uses)", 2);
        if (!v["registry-pub"] || !v["oem-key"]) throw new CliError("E_USAGE", "--registry needs --registry-pub and --oem-key", 2);
        let registryPublic: Uint8Array;
        try {
          registryPublic = loadPublicKey(v["registry-pub"]);
        } catch (e) {
          throw new CliError("E_FILE", (e as Error).message);
        }
        // An https:// registry whose certificate a private CA issued: ANTITHEFT_REGISTRY_CA, as for
        // the owner and authority commands (docs/PROTOCOL.md §2.1). Every HTTP request the suite
        // makes in this process trusts that CA.
        const registryCa = process.env.ANTITHEFT_REGISTRY_CA;
        if (registryCa && /^https:/i.test(v.registry)) globalThis.fetch = fetchWithCa(loadTlsFlags({ ca: registryCa }).ca!);
        // A --registry-pub of another registry would make every handset reject every command:
        // a configuration mistake, reported as such (exit 2) before any scenario runs.
        await checkRegistryKey(v.registry, registryPublic, `--registry-pub ${v["registry-pub"]}`, "--registry");
        const ledger = v["federation-key"]
          ? {
              peerKeys: [readPrivate(peerKeys[0]!, "ledger-peer-key"), readPrivate(peerKeys[1]!, "ledger-peer-key")] as const,
              federationKey: federationKeyArg(v["federation-key"]),
              // Over mutual TLS the members the suite plays get ledger-link certificates from --device-ca.
              ...(tls ? { peerSecurity: labPeerSecurity(tls) } : {}),
            }
          : undefined;
        const ctx = { brokerUrl: v.broker, mqttVersion: mqttVersion as 4 | 5, module, ...(measurement ? { measurement } : {}) };
        const driver = v.driver
          ? await loadDriver(v.driver, ctx)
          : tls
            ? new TlsVirtualHandsetDriver(v.broker, tls, { module, mqttVersion, ...(measurement ? { measurement } : {}) })
            : virtualDriver(module, v.broker, mqttVersion, measurement ? { measurement } : {}, transport);
        const external = externalTarget({
          brokerUrl: v.broker,
          mqttVersion,
          registryUrl: v.registry,
          registryPublic,
          oemKey: readPrivate(v["oem-key"], "oem-key"),
          ...(v["authority-key"] ? { authorityKey: readPrivate(v["authority-key"], "authority-key") } : {}),
          ...(measurement ? { acceptedMeasurement: measurement } : {}),
          ...(v["ranged-oem-key"] ? { rangedOem: rangedOemArg(v["ranged-oem-key"]) } : {}),
          ...(v["restart-registry"] ? { restartRegistry: v["restart-registry"] } : {}),
          ...(v["restart-broker"] ? { restartBroker: v["restart-broker"] } : {}),
          ...(ledger ? { ledger } : {}),
          driver,
          workers,
          module,
        });
        target = tls ? { ...external, brokerSecurity: tls.harness } : external;
      } else {
        site = await EmbeddedSite.start({ ...(v.broker ? { broker: v.broker } : {}), mqttVersion, ledger: true, ...(tls ? await labSiteOptions(tls) : {}) });
        const s = site;
        const ctx = { brokerUrl: s.brokerUrl, mqttVersion: s.mqttVersion, module, measurement: s.acceptedMeasurement };
        const driver = v.driver ? await loadDriver(v.driver, ctx) : undefined;
        const base = siteTarget({ site: s, module, transport, ...(driver ? { driver } : {}), ...(tls ? { tls } : {}) });
        target = workers > 0
          ? { ...base, fleet: WorkerFleet.factory({ workers, module, brokerUrl: s.brokerUrl, mqttVersion: s.mqttVersion, transport: "lite", oemPem: s.oemPem, ...(tls ? { tlsCa: tls.deviceCa } : {}) }) }
          : base;
      }
      const progress = new Progress();
      // Reports say what produced them: tool, version, commit and options (secrets left out).
      const options: Record<string, unknown> = { ...v };
      if (typeof options["federation-key"] === "string" && /^[0-9a-fA-F]{64}$/.test(options["federation-key"])) options["federation-key"] = "(64 hex characters, not recorded)";
      const report = await runConformance({
        about: { tool: { name: "antitheft conformance", ...toolVersion() }, options },
        target,
        scenarios,
        fleetSize: devices,
        timeoutMs,
        progress: (done, total, label) => progress.update(done, total, label),
        onStart: (s) => process.stderr.write(`  ${s.name} ...\n`),
        onVerdict: () => progress.done(),
      });
      process.stdout.write(formatTable(report));
      if (v.report) {
        const files = await writeReports(v.report, report);
        process.stdout.write(`  reports: ${files.join(", ")}\n`);
      }
      return report.counts.fail + report.counts.error === 0 ? 0 : 1;
    } finally {
      await site?.stop();
    }
  },
};
