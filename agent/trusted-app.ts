// The typed host wrapper around one Trusted App instance (ABI v1, docs/ABI.md).
// One TrustedApp = one wasm instance with its own linear memory and state; nothing is shared
// between instances and nothing is cached at module level. Fleets compile the module once
// (TrustedApp.compile) and instantiate it many times (TrustedApp.fromModule).
//
// The ABI: every export takes i32 arguments, reads its inputs from the static I/O buffer
// (io_ptr, io_cap bytes) and returns an i32: >= 0 is the length of the output written at
// the start of the buffer, < 0 a code from assembly/errors.ts (mirrored in ./ta-errors.ts).
//
// Extending: later exports are reached through `call` (raw status) or `invoke` (throws TaError
// on a negative status), e.g. a typed wrapper that validates its arguments at the boundary
// (./validate.ts) and then calls `app.invoke("attest", [nonce.length, m.length], input)`.
import { readFile } from "node:fs/promises";
import { HOST_ERRORS, TaError } from "./ta-errors.js";
import { assertBytes, assertFits, assertInt } from "./validate.js";

/** The release build, relative to this file once compiled (dist/agent/ -> build/). */
export const DEFAULT_TA_URL = new URL("../../build/ta.wasm", import.meta.url);

/** RFC 5869 §2.3: L <= 255*HashLen. */
export const HKDF_SHA512_MAX_OUT = 255 * 64;
export const ED25519_SEED_BYTES = 32;
export const ED25519_PUBLIC_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

const I32_MIN = -0x8000_0000;
const I32_MAX = 0x7fff_ffff;
const EMPTY = new Uint8Array(0);

/** What the low-level `call` returns: the raw status and, when status >= 0, a copy of io[0..status). */
export interface TaResult {
  readonly status: number;
  readonly output: Uint8Array;
}

type TaFunction = (...args: number[]) => number;

export class TrustedApp {
  /** Address of the I/O buffer in the TA's linear memory. */
  readonly ioPtr: number;
  /** Size of the I/O buffer in bytes. */
  readonly ioCap: number;
  readonly #exports: WebAssembly.Exports;
  readonly #memory: WebAssembly.Memory;
  #view: Uint8Array;
  #current = "";
  #poisoned = false;

  private constructor(instance: WebAssembly.Instance) {
    const ex = instance.exports;
    if (!(ex.memory instanceof WebAssembly.Memory)) throw new TypeError("the TA module must export its memory");
    if (typeof ex.io_ptr !== "function" || typeof ex.io_cap !== "function") {
      throw new TypeError("the TA module must export io_ptr and io_cap");
    }
    this.#exports = ex;
    this.#memory = ex.memory;
    this.#view = new Uint8Array(ex.memory.buffer);
    this.ioPtr = (ex.io_ptr as TaFunction)() >>> 0;
    this.ioCap = (ex.io_cap as TaFunction)() | 0;
    if (this.ioCap < 0 || this.ioPtr + this.ioCap > this.#view.length) {
      throw new TypeError(`the TA's I/O buffer [${this.ioPtr}, +${this.ioCap}) lies outside its memory`);
    }
  }

  /** Compiles a TA module once (from a path, a URL or the bytes) for many `fromModule` instances. */
  static async compile(source: string | URL | Uint8Array = DEFAULT_TA_URL): Promise<WebAssembly.Module> {
    const bytes = source instanceof Uint8Array ? source : await readFile(source);
    // A copy into a plain ArrayBuffer-backed Uint8Array: what WebAssembly.compile accepts.
    return WebAssembly.compile(new Uint8Array(bytes));
  }

  /** Loads, compiles and instantiates a TA (by default the release build, build/ta.wasm). */
  static async load(path: string | URL = DEFAULT_TA_URL): Promise<TrustedApp> {
    return TrustedApp.fromModule(await TrustedApp.compile(path));
  }

  /** Compiles and instantiates a TA from its bytes. */
  static async fromBytes(bytes: Uint8Array): Promise<TrustedApp> {
    assertBytes(bytes, "bytes");
    return TrustedApp.fromModule(await TrustedApp.compile(bytes));
  }

  /** A fresh instance (own memory, own state) of an already compiled module. Synchronous. */
  static fromModule(module: WebAssembly.Module): TrustedApp {
    if (!(module instanceof WebAssembly.Module)) throw new TypeError("module must be a WebAssembly.Module");
    // The abort import needs the instance's memory to decode its message; the holder is
    // per instance, filled right after instantiation.
    const holder: { app?: TrustedApp } = {};
    const imports = {
      env: {
        abort(message: number, file: number, line: number, column: number): never {
          const app = holder.app;
          const where = app ? `${app.#readAsString(message)} at ${app.#readAsString(file)}:${line}:${column}` : "";
          throw new TaError(HOST_ERRORS.ERR_ABORT.code, app ? app.#current : "(start)", where);
        },
      },
    };
    const app = new TrustedApp(new WebAssembly.Instance(module, imports));
    holder.app = app;
    return app;
  }

  /**
   * Low-level call: writes `input` at the I/O buffer, calls `exportName(...args)` and returns the
   * status with a copy of io[0..status) when status >= 0. A negative status is returned, not
   * thrown. Input bytes the output did not overwrite are zeroed afterwards (they may be secrets).
   * Throws TypeError/RangeError for bad arguments and TaError when the TA traps or aborts (after
   * which this instance refuses every call: its state is undefined).
   */
  call(exportName: string, args: readonly number[] = [], input: Uint8Array = EMPTY): TaResult {
    const fn = this.#function(exportName);
    if (!Array.isArray(args)) throw new TypeError("args must be an array of i32 values");
    if (args.length !== fn.length) {
      throw new RangeError(`args: ${exportName} takes ${fn.length} arguments, got ${args.length}`);
    }
    args.forEach((a, i) => assertInt(a, `args[${i}]`, I32_MIN, I32_MAX));
    assertBytes(input, "input");
    assertFits(input.length, this.ioCap, "input");
    return this.#run(exportName, fn, args, [input]);
  }

  /** Like `call`, but a negative status throws TaError and the output must be `expectLength` bytes if given. */
  invoke(exportName: string, args: readonly number[], input: Uint8Array, expectLength?: number): Uint8Array {
    return this.#expect(exportName, this.call(exportName, args, input), expectLength);
  }

  #expect(exportName: string, { status, output }: TaResult, expectLength?: number): Uint8Array {
    if (status < 0) throw new TaError(status, exportName);
    if (expectLength !== undefined && status !== expectLength) {
      throw new TaError(HOST_ERRORS.ERR_BAD_STATUS.code, exportName, `expected ${expectLength} bytes, got ${status}`);
    }
    return output;
  }

  /** FIPS 180-4 SHA-512 of `msg` (at most ioCap bytes). */
  sha512(msg: Uint8Array): Uint8Array {
    assertBytes(msg, "msg");
    assertFits(msg.length, this.ioCap, "msg");
    return this.#invoke("sha512", [msg.length], [msg], 64);
  }

  /** RFC 2104 HMAC-SHA-512 of `msg` under `key`. */
  hmacSha512(key: Uint8Array, msg: Uint8Array): Uint8Array {
    assertBytes(key, "key");
    assertBytes(msg, "msg");
    assertFits(key.length + msg.length, this.ioCap, "key and msg");
    return this.#invoke("hmac_sha512", [key.length, msg.length], [key, msg], 64);
  }

  /** RFC 5869 HKDF-SHA-512: `length` (0 .. 255*64) bytes of output keying material. */
  hkdfSha512(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
    assertBytes(ikm, "ikm");
    assertBytes(salt, "salt");
    assertBytes(info, "info");
    assertInt(length, "length", 0, HKDF_SHA512_MAX_OUT);
    assertFits(ikm.length + salt.length + info.length, this.ioCap, "ikm, salt and info");
    assertFits(length, this.ioCap, "the output");
    return this.#invoke("hkdf_sha512", [ikm.length, salt.length, info.length, length], [ikm, salt, info], length);
  }

  /** RFC 8032 §5.1.5: the public key of a 32-byte seed. */
  ed25519Public(seed: Uint8Array): Uint8Array {
    assertBytes(seed, "seed", ED25519_SEED_BYTES);
    return this.#invoke("ed25519_public", [], [seed], ED25519_PUBLIC_BYTES);
  }

  /** RFC 8032 §5.1.6: the deterministic signature of `msg` under `seed`. */
  ed25519Sign(seed: Uint8Array, msg: Uint8Array): Uint8Array {
    assertBytes(seed, "seed", ED25519_SEED_BYTES);
    assertBytes(msg, "msg");
    assertFits(ED25519_SEED_BYTES + msg.length, this.ioCap, "seed and msg");
    return this.#invoke("ed25519_sign", [msg.length], [seed, msg], ED25519_SIGNATURE_BYTES);
  }

  /**
   * RFC 8032 §5.1.7 strict verification. Answers true or false and never throws on hostile
   * bytes: a public key or signature of the wrong length is simply not valid. Throws only for
   * non-byte arguments (TypeError) or a message too long for the I/O buffer (RangeError).
   */
  ed25519Verify(publicKey: Uint8Array, signature: Uint8Array, msg: Uint8Array): boolean {
    assertBytes(publicKey, "publicKey");
    assertBytes(signature, "signature");
    assertBytes(msg, "msg");
    assertFits(ED25519_PUBLIC_BYTES + ED25519_SIGNATURE_BYTES + msg.length, this.ioCap, "publicKey, signature and msg");
    if (publicKey.length !== ED25519_PUBLIC_BYTES || signature.length !== ED25519_SIGNATURE_BYTES) return false;
    const fn = this.#function("ed25519_verify");
    const { status } = this.#run("ed25519_verify", fn, [msg.length], [publicKey, signature, msg]);
    if (status === 1) return true;
    if (status === 0) return false;
    throw new TaError(status < 0 ? status : HOST_ERRORS.ERR_BAD_STATUS.code, "ed25519_verify", `status ${status}`);
  }

  /** Writes the parts one after another at io, calls, copies the output, zeroes leftover input. */
  #run(exportName: string, fn: TaFunction, args: readonly number[], parts: readonly Uint8Array[]): TaResult {
    if (this.#poisoned) throw new TaError(HOST_ERRORS.ERR_POISONED.code, exportName);
    let mem = this.#bytes();
    let end = this.ioPtr;
    for (const p of parts) {
      mem.set(p, end);
      end += p.length;
    }
    this.#current = exportName;
    let status: number;
    try {
      status = fn(...args);
    } catch (e) {
      this.#poisoned = true;
      if (e instanceof TaError) throw e;
      if (e instanceof WebAssembly.RuntimeError) throw new TaError(HOST_ERRORS.ERR_TRAP.code, exportName, e.message);
      throw e;
    } finally {
      this.#current = "";
    }
    mem = this.#bytes();
    if (typeof status !== "number" || !Number.isInteger(status) || status > this.ioCap) {
      mem.fill(0, this.ioPtr, end);
      throw new TaError(HOST_ERRORS.ERR_BAD_STATUS.code, exportName, `status ${String(status)}`);
    }
    const out = this.ioPtr + Math.max(status, 0);
    const output = mem.slice(this.ioPtr, out);
    if (end > out) mem.fill(0, out, end);
    return { status, output };
  }

  /** High-level calls: arguments already validated, inputs given as parts (no concatenation). */
  #invoke(exportName: string, args: readonly number[], parts: readonly Uint8Array[], expectLength: number): Uint8Array {
    return this.#expect(exportName, this.#run(exportName, this.#function(exportName), args, parts), expectLength);
  }

  #function(name: string): TaFunction {
    if (typeof name !== "string") throw new TypeError("exportName must be a string");
    const fn = Object.hasOwn(this.#exports, name) ? this.#exports[name] : undefined;
    if (typeof fn !== "function") throw new RangeError(`exportName: the TA exports no function "${name}"`);
    return fn as TaFunction;
  }

  #bytes(): Uint8Array {
    // memory.grow detaches the old buffer; re-view it then.
    if (this.#view.buffer !== this.#memory.buffer) this.#view = new Uint8Array(this.#memory.buffer);
    return this.#view;
  }

  /** Decodes an AssemblyScript string (UTF-16LE, byte length at ptr-4) for abort messages. */
  #readAsString(ptr: number): string {
    const mem = this.#bytes();
    ptr >>>= 0;
    if (ptr < 4 || ptr > mem.length) return "?";
    const len = new DataView(mem.buffer).getUint32(ptr - 4, true);
    if (len > 1024 || ptr + len > mem.length) return "?";
    return Buffer.from(mem.subarray(ptr, ptr + (len & ~1))).toString("utf16le");
  }
}
