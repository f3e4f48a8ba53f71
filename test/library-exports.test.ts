// The package's library entry points (package.json "exports": `antitheft/attestation`,
// `antitheft/protocol`) as a consumer sees them: the package is packed with `npm pack`, unpacked
// into a scratch node_modules outside the repository, and examples/library/verify-attestation.ts
// is type-checked against the packed .d.ts files and run from there. Its inputs are a real
// handset's messages: a folder provisioned by the factory code on the real TA, its hello and
// its answer to a challenge.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateEd25519, nodeSigner, publicKeyToPem, rawPublicKey } from "../attestation/index.js";
import { provisionFolder } from "../agent/factory.js";
import { DeviceFolder, FILES } from "../agent/device-folder.js";
import { DeviceSession } from "../agent/session.js";
import { encodeAttestation, encodeChallenge, encodeHello } from "../protocol/index.js";
import { compileTa, ROOT } from "./support/ta.js";

const IMEI = "490154203237518";

// Under `npm test` the environment carries npm's own settings (npm_config_local_prefix and the
// like), which would make the nested `npm pack` act on the wrong folder: drop them.
// npm test also puts node_modules/.bin first on PATH, where a dependency's own npm 6
// (npm-install-peers, under @as-pect/cli) would answer for `npm` and not know --pack-destination.
const CLEAN_ENV = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))),
  PATH: (process.env.PATH ?? "").split(":").filter((d) => !/[\\/]node_modules[\\/]\.bin$/.test(d)).join(":"),
};

function run(cmd: string, args: string[], cwd: string) {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 64 << 20, env: CLEAN_ENV });
  if (r.error) throw r.error;
  return r;
}

test("antitheft/attestation and antitheft/protocol resolve, typed, from the packed package; the example verifies a real handset", async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), "antitheft-lib-"));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));

  // 1. Pack (no scripts: the build already ran) and unpack as an installed dependency.
  const pack = run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", tmp], ROOT);
  assert.equal(pack.status, 0, pack.stderr);
  const [info] = JSON.parse(pack.stdout) as [{ filename: string; files: { path: string }[] }];
  const packed = new Set(info.files.map((f) => f.path));
  for (const f of ["package.json", "dist/attestation/index.js", "dist/attestation/index.d.ts", "dist/protocol/index.js", "dist/protocol/index.d.ts", "build/ta.wasm", "dist/cli/antitheft.js"]) {
    assert.ok(packed.has(f), `the package must contain ${f}`);
  }
  assert.ok(![...packed].some((p) => p.startsWith("dist/test/")), "compiled tests are not shipped");
  const pkgDir = join(tmp, "node_modules", "antitheft");
  mkdirSync(pkgDir, { recursive: true });
  const untar = run("tar", ["-xzf", join(tmp, info.filename), "-C", pkgDir, "--strip-components=1"], tmp);
  assert.equal(untar.status, 0, untar.stderr);
  // The package's own dependencies (cbor-x) and @types/node, as an install would provide them.
  symlinkSync(join(ROOT, "node_modules"), join(pkgDir, "node_modules"), "dir");
  mkdirSync(join(tmp, "node_modules", "@types"));
  symlinkSync(join(ROOT, "node_modules", "@types", "node"), join(tmp, "node_modules", "@types", "node"), "dir");

  // 2. Type-check and compile the example against the packed declarations.
  const app = join(tmp, "app");
  mkdirSync(app);
  copyFileSync(join(ROOT, "examples", "library", "verify-attestation.ts"), join(app, "verify-attestation.ts"));
  writeFileSync(join(tmp, "package.json"), JSON.stringify({ name: "oem-app", private: true, type: "module" }));
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({ compilerOptions: { target: "es2022", module: "nodenext", moduleResolution: "nodenext", strict: true, types: ["node"], outDir: "out" }, include: ["*.ts"] }),
  );
  const tsc = run(join(ROOT, "node_modules", ".bin", "tsc"), ["-p", app], app);
  assert.equal(tsc.status, 0, `the example must type-check against the packed .d.ts:\n${tsc.stdout}${tsc.stderr}`);
  const example = join(app, "out", "verify-attestation.js");

  // A type error in a consumer is caught (negative control for the type-check above).
  writeFileSync(join(app, "wrong.ts"), 'import { decodeHello } from "antitheft/protocol";\nconst n: number = decodeHello(new Uint8Array(0)).endorsement;\nexport { n };\n');
  const tscBad = run(join(ROOT, "node_modules", ".bin", "tsc"), ["-p", app, "--noEmit"], app);
  assert.notEqual(tscBad.status, 0, "assigning a Uint8Array to a number must not type-check");
  assert.match(tscBad.stdout + tscBad.stderr, /wrong\.ts/);
  rmSync(join(app, "wrong.ts"));

  // Only the two entry points are public: internal modules are not importable by name.
  const probe = run(
    process.execPath,
    ["--input-type=module", "-e", 'await import("antitheft/registry/errors").then(() => console.log("resolved"), (e) => console.log(e.code))'],
    app,
  );
  assert.equal(probe.stdout.trim(), "ERR_PACKAGE_PATH_NOT_EXPORTED");

  // 3. A real handset: factory provisioning on the TA, its hello, its answer to a challenge.
  const module = compileTa();
  const oemKey = generateEd25519();
  const dir = join(tmp, "handset");
  await provisionFolder(dir, module, { imei: IMEI, oem: nodeSigner(oemKey.privateKey), registryKeys: [rawPublicKey(generateEd25519().publicKey)], model: "Example X1" });
  const session = await DeviceSession.boot(DeviceFolder.at(dir), module);
  const endorsement = new Uint8Array(readFileSync(join(dir, FILES.endorsement)));
  const view = session.view();
  const nonce = new Uint8Array(32).fill(7);
  const files = {
    oem: join(tmp, "oem.pub"),
    challenge: join(tmp, "challenge.cbor"),
    hello: join(tmp, "hello.cbor"),
    attestation: join(tmp, "attestation.cbor"),
  };
  writeFileSync(files.oem, publicKeyToPem(oemKey.publicKey));
  writeFileSync(files.challenge, encodeChallenge({ nonce }));
  writeFileSync(files.hello, encodeHello({ endorsement, bootcount: view.bootcount, lock: view.lock, seq: view.seq }));
  const token = session.attest(nonce);
  writeFileSync(files.attestation, encodeAttestation({ token }));

  const verify = (over: Partial<typeof files> = {}) => {
    const f = { ...files, ...over };
    return run(process.execPath, [example, "--oem-pub", f.oem, f.challenge, f.hello, f.attestation], app);
  };
  const ok = verify();
  assert.equal(ok.status, 0, ok.stderr);
  const out = JSON.parse(ok.stdout) as Record<string, unknown>;
  assert.equal(out.imei, IMEI);
  assert.equal(out.deviceKid, session.did);
  assert.equal(out.hwmodel, "Example X1");
  assert.equal(out.lockState, 0);
  assert.equal(out.tampered, false);

  // The same example refuses what it must (each a typed code), so its "ok" above means something.
  const forged = Uint8Array.from(token);
  forged[forged.length - 1]! ^= 1;
  writeFileSync(join(tmp, "forged.cbor"), encodeAttestation({ token: forged }));
  const bad = verify({ attestation: join(tmp, "forged.cbor") });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^error E_COSE_SIGNATURE: /);

  writeFileSync(join(tmp, "other-challenge.cbor"), encodeChallenge({ nonce: new Uint8Array(32).fill(8) }));
  const stale = verify({ challenge: join(tmp, "other-challenge.cbor") });
  assert.equal(stale.status, 1);
  assert.match(stale.stderr, /^error E_NONCE_MISMATCH: /);

  writeFileSync(join(tmp, "other-oem.pub"), publicKeyToPem(generateEd25519().publicKey));
  const untrusted = verify({ oem: join(tmp, "other-oem.pub") });
  assert.equal(untrusted.status, 1);
  assert.match(untrusted.stderr, /^error E_ENDORSEMENT_UNTRUSTED: /);

  writeFileSync(join(tmp, "garbage.cbor"), Uint8Array.of(0xff, 0x00));
  const garbage = verify({ hello: join(tmp, "garbage.cbor") });
  assert.equal(garbage.status, 2);
  assert.match(garbage.stderr, /^error E_MESSAGE: /);
});
