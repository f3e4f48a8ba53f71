// A strict, bounded CBOR decoder for hostile bytes. It validates while it walks and builds the
// value only from what it has validated; every failure is an AttestationError:
// - well-formedness (RFC 8949 §3, Appendix C): no truncation, no reserved additional
//   information 28..30, no stray break, valid UTF-8 in text strings (§3.1, major type 3);
// - definite lengths only (§4.2.1) -> E_CBOR_INDEFINITE_LENGTH;
// - shortest-form arguments for integers, lengths and tags (§4.2.1 "preferred serialization")
//   -> E_CBOR_NOT_DETERMINISTIC;
// - no duplicate map keys (§5.6) -> E_CBOR_DUPLICATE_KEY; with `deterministic` (the default),
//   keys in the bytewise order of their encodings (§4.2.1) -> E_CBOR_NOT_DETERMINISTIC;
// - bounded depth, item count and input size -> E_CBOR_LIMIT; a declared length or count
//   larger than the bytes left is a truncation, so nothing is allocated beyond the input size;
// - exactly one top-level item -> E_CBOR_TRAILING_BYTES.
// Floats, simple values other than false/true/null/undefined, map keys other than integers and
// text strings, and tags above 2^32-1 are valid CBOR that this profile does not use:
// E_CBOR_UNSUPPORTED.
import { AttestationError, type ErrorCode } from "../errors.js";
import { compareBytes } from "../bytes.js";
import { CborTag, type CborKey, type CborMap, type CborValue } from "./value.js";

export interface StrictOptions {
  /** Also require map keys in bytewise order of their encodings (RFC 8949 §4.2.1). Default true. */
  readonly deterministic?: boolean;
  /** Maximum nesting of arrays, maps and tags. Default 16. */
  readonly maxDepth?: number;
  /** Maximum number of data items in total. Default 4096. */
  readonly maxItems?: number;
  /** Maximum input size in bytes. Default 65536. */
  readonly maxBytes?: number;
}

const DEFAULTS: Required<StrictOptions> = { deterministic: true, maxDepth: 16, maxItems: 4096, maxBytes: 65536 };
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const TWO_32 = 0x100000000;

class StrictDecoder {
  pos = 0;
  items = 0;
  constructor(
    private readonly b: Uint8Array,
    private readonly o: Required<StrictOptions>,
  ) {}

  fail(code: ErrorCode, msg: string, at = this.pos): never {
    throw new AttestationError(code, `${msg} (offset ${at})`);
  }

  need(n: number, at: number): void {
    if (this.b.length - this.pos < n) this.fail("E_CBOR_MALFORMED", "truncated item", at);
  }

  /** Reads the argument that follows an initial byte (RFC 8949 §3), checking shortest form. */
  argument(ai: number, major: number, at: number): number | bigint {
    const b = this.b;
    if (ai < 24) return ai;
    if (ai === 24) {
      this.need(1, at);
      const v = b[this.pos++]!;
      if (v < 24) this.fail("E_CBOR_NOT_DETERMINISTIC", "argument not in shortest form", at);
      return v;
    }
    if (ai === 25) {
      this.need(2, at);
      const v = (b[this.pos]! << 8) | b[this.pos + 1]!;
      this.pos += 2;
      if (v < 0x100) this.fail("E_CBOR_NOT_DETERMINISTIC", "argument not in shortest form", at);
      return v;
    }
    if (ai === 26) {
      this.need(4, at);
      const v = ((b[this.pos]! << 24) >>> 0) + (b[this.pos + 1]! << 16) + (b[this.pos + 2]! << 8) + b[this.pos + 3]!;
      this.pos += 4;
      if (v < 0x10000) this.fail("E_CBOR_NOT_DETERMINISTIC", "argument not in shortest form", at);
      return v;
    }
    if (ai === 27) {
      this.need(8, at);
      const v = new DataView(b.buffer, b.byteOffset + this.pos, 8).getBigUint64(0);
      this.pos += 8;
      if (v < BigInt(TWO_32)) this.fail("E_CBOR_NOT_DETERMINISTIC", "argument not in shortest form", at);
      return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    if (ai === 31) {
      if (major >= 2 && major <= 5) this.fail("E_CBOR_INDEFINITE_LENGTH", "indefinite length", at);
      this.fail("E_CBOR_MALFORMED", "additional information 31 not allowed here", at);
    }
    return this.fail("E_CBOR_MALFORMED", `reserved additional information ${ai}`, at);
  }

  /** Major type 7 (RFC 8949 §3.3). */
  simple(ai: number, at: number): CborValue {
    switch (ai) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return undefined;
      case 24: {
        this.need(1, at);
        const v = this.b[this.pos++]!;
        if (v < 32) this.fail("E_CBOR_MALFORMED", "two-byte simple value below 32", at); // §3.3
        return this.fail("E_CBOR_UNSUPPORTED", `simple value ${v}`, at);
      }
      case 25:
      case 26:
      case 27:
        this.need(1 << (ai - 24), at);
        return this.fail("E_CBOR_UNSUPPORTED", "floating-point value", at);
      case 28:
      case 29:
      case 30:
        return this.fail("E_CBOR_MALFORMED", `reserved additional information ${ai}`, at);
      case 31:
        return this.fail("E_CBOR_MALFORMED", "break outside an indefinite-length item", at);
      default:
        return this.fail("E_CBOR_UNSUPPORTED", `simple value ${ai}`, at);
    }
  }

  /** A length or count that must fit in the bytes left (each element takes >= `unit` bytes). */
  count(arg: number | bigint, unit: number, at: number): number {
    if (typeof arg === "bigint" || arg * unit > this.b.length - this.pos) {
      this.fail("E_CBOR_MALFORMED", "length exceeds the remaining input", at);
    }
    return arg;
  }

  item(depth: number): CborValue {
    const at = this.pos;
    if (++this.items > this.o.maxItems) this.fail("E_CBOR_LIMIT", `more than ${this.o.maxItems} items`, at);
    this.need(1, at);
    const ib = this.b[this.pos++]!;
    const major = ib >> 5;
    const ai = ib & 31;
    if (major === 7) return this.simple(ai, at);
    const arg = this.argument(ai, major, at);
    switch (major) {
      case 0:
        return arg;
      case 1:
        if (typeof arg === "number" && arg < Number.MAX_SAFE_INTEGER) return -1 - arg;
        return -1n - BigInt(arg);
      case 2: {
        const n = this.count(arg, 1, at);
        const v = this.b.slice(this.pos, this.pos + n);
        this.pos += n;
        return v;
      }
      case 3: {
        const n = this.count(arg, 1, at);
        const raw = this.b.subarray(this.pos, this.pos + n);
        this.pos += n;
        try {
          return utf8.decode(raw);
        } catch {
          return this.fail("E_CBOR_MALFORMED", "text string is not valid UTF-8", at);
        }
      }
      case 4: {
        if (depth >= this.o.maxDepth) this.fail("E_CBOR_LIMIT", `nesting deeper than ${this.o.maxDepth}`, at);
        const n = this.count(arg, 1, at);
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.item(depth + 1));
        return out;
      }
      case 5:
        if (depth >= this.o.maxDepth) this.fail("E_CBOR_LIMIT", `nesting deeper than ${this.o.maxDepth}`, at);
        return this.map(this.count(arg, 2, at), depth);
      default: {
        // major 6: tag
        if (depth >= this.o.maxDepth) this.fail("E_CBOR_LIMIT", `nesting deeper than ${this.o.maxDepth}`, at);
        if (typeof arg === "bigint" || arg >= TWO_32) this.fail("E_CBOR_UNSUPPORTED", "tag number above 2^32-1", at);
        return new CborTag(arg, this.item(depth + 1));
      }
    }
  }

  map(n: number, depth: number): CborMap {
    const out: CborMap = new Map();
    const seen = new Set<string>();
    let prev: Uint8Array | undefined;
    for (let i = 0; i < n; i++) {
      const at = this.pos;
      const key = this.item(depth + 1);
      if (typeof key !== "number" && typeof key !== "bigint" && typeof key !== "string") {
        this.fail("E_CBOR_UNSUPPORTED", "map key is not an integer or a text string", at);
      }
      const kb = this.b.subarray(at, this.pos);
      let id = "";
      for (let j = 0; j < kb.length; j++) id += String.fromCharCode(kb[j]!);
      // Shortest forms are enforced, so equal keys have equal encodings (RFC 8949 §5.6).
      if (seen.has(id)) this.fail("E_CBOR_DUPLICATE_KEY", "duplicate map key", at);
      seen.add(id);
      if (this.o.deterministic && prev !== undefined && compareBytes(prev, kb) > 0) {
        this.fail("E_CBOR_NOT_DETERMINISTIC", "map keys not in bytewise order of their encodings", at);
      }
      prev = kb;
      out.set(key as CborKey, this.item(depth + 1));
    }
    return out;
  }
}

/**
 * Decodes exactly one CBOR data item from hostile bytes. Throws only AttestationError
 * (E_CBOR_* codes, or E_ARGUMENT when `bytes` is not a Uint8Array).
 */
export function decodeStrict(bytes: Uint8Array, options: StrictOptions = {}): CborValue {
  if (!(bytes instanceof Uint8Array)) throw new AttestationError("E_ARGUMENT", "bytes must be a Uint8Array");
  const o: Required<StrictOptions> = {
    deterministic: options.deterministic ?? DEFAULTS.deterministic,
    maxDepth: options.maxDepth ?? DEFAULTS.maxDepth,
    maxItems: options.maxItems ?? DEFAULTS.maxItems,
    maxBytes: options.maxBytes ?? DEFAULTS.maxBytes,
  };
  if (bytes.length > o.maxBytes) throw new AttestationError("E_CBOR_LIMIT", `input larger than ${o.maxBytes} bytes`);
  const d = new StrictDecoder(bytes, o);
  const v = d.item(0);
  if (d.pos !== bytes.length) d.fail("E_CBOR_TRAILING_BYTES", `${bytes.length - d.pos} bytes after the item`);
  return v;
}
