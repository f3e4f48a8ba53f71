// Shared helpers for the Trusted App tests: where the builds are, hex, a compiled module.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The repository root (tests run from dist/test/**). */
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const TA_WASM = fileURLToPath(new URL("../../../build/ta.wasm", import.meta.url));

/** Compiles build/ta.wasm (once per caller; one module, many instances). */
export function compileTa(path = TA_WASM): WebAssembly.Module {
  return new WebAssembly.Module(new Uint8Array(readFileSync(path)));
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

export function unhex(text: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/i.test(text)) throw new Error(`not hex: ${text.slice(0, 40)}`);
  return new Uint8Array(Buffer.from(text, "hex"));
}

export function ascii(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "latin1"));
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}
