// Deterministic CBOR encoding (RFC 8949 §4.2.1) over cbor-x.
// cbor-x with the options below writes shortest-form heads and definite lengths
// (STANDARDS.md "Deterministic CBOR"), but it keeps Map insertion order, writes integers
// >= 2^32 as float64, writes small bigints with 8-byte heads, and tags typed arrays. So values
// are normalised first: integers are given the JS type cbor-x encodes in shortest form, and
// every map is rebuilt with its keys sorted by the bytewise order of their encodings
// (RFC 8949 §4.2.1 "Core Deterministic Encoding Requirements"); two keys with equal
// encodings are a duplicate (RFC 8949 §5.6). Floats are refused: our formats have none.
import { Encoder, Tag } from "cbor-x";
import { AttestationError } from "../errors.js";
import { compareBytes } from "../bytes.js";
import { CborTag } from "./value.js";

// useTag259ForMaps is read by cbor-x (encode.js) but missing from its Options type.
const options = {
  useRecords: false,
  useTag259ForMaps: false,
  variableMapSize: true,
  tagUint8Array: false,
  mapsAsObjects: false,
};
const encoder = new Encoder(options);

const TWO_32 = 1n << 32n;
const TWO_64 = 1n << 64n;
const MAX_DEPTH = 64;

function unsupported(msg: string): never {
  throw new AttestationError("E_CBOR_UNSUPPORTED", msg);
}

/** cbor-x encodes numbers in [-2^32, 2^32) and bigints in (-2^64, 2^64) in shortest form. */
function integer(v: bigint): number | bigint {
  if (v >= -TWO_32 && v < TWO_32) return Number(v);
  // cbor-x writes -2^64 (the most negative major-1 value) as a tag-3 bignum: not supported.
  if (v >= TWO_64 || v <= -TWO_64) unsupported("integer outside (-2^64, 2^64)");
  return v;
}

function raw(v: unknown): Uint8Array {
  return encoder.encode(v);
}

function normalise(v: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH) unsupported(`nesting deeper than ${MAX_DEPTH}`);
  switch (typeof v) {
    case "number":
      if (!Number.isInteger(v)) unsupported("floating-point values are not used by this profile");
      return integer(BigInt(v));
    case "bigint":
      return integer(v);
    case "string":
    case "boolean":
    case "undefined":
      return v;
    case "object":
      break;
    default:
      unsupported(`cannot encode a ${typeof v}`);
  }
  if (v === null) return null;
  if (v instanceof Uint8Array) return v; // Buffer included: a byte string, never tagged
  if (ArrayBuffer.isView(v)) unsupported("typed arrays other than Uint8Array");
  if (Array.isArray(v)) return v.map((x) => normalise(x, depth + 1));
  if (v instanceof CborTag) {
    if (!Number.isSafeInteger(v.tag) || v.tag < 0 || v.tag >= 2 ** 32) unsupported("tag number outside 0..2^32-1");
    return new Tag(normalise(v.value, depth + 1), v.tag);
  }
  let entries: [unknown, unknown][];
  if (v instanceof Map) entries = [...v.entries()];
  else if (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null) {
    entries = Object.entries(v as Record<string, unknown>);
  } else unsupported("cannot encode this object type");
  const sorted = entries
    .map(([k, x]) => {
      const key = normalise(k, depth + 1);
      return { key, enc: raw(key), value: normalise(x, depth + 1) };
    })
    .sort((a, b) => compareBytes(a.enc, b.enc));
  for (let i = 1; i < sorted.length; i++) {
    if (compareBytes(sorted[i - 1]!.enc, sorted[i]!.enc) === 0) {
      throw new AttestationError("E_CBOR_DUPLICATE_KEY", "two map keys have the same encoding");
    }
  }
  const out = new Map<unknown, unknown>();
  for (const e of sorted) out.set(e.key, e.value);
  if (out.size !== sorted.length) {
    // Distinct encodings always give distinct keys; this guards the Map rebuild.
    throw new AttestationError("E_INTERNAL", "map rebuild lost a key");
  }
  return out;
}

/**
 * Encodes a value deterministically (RFC 8949 §4.2.1). Accepts integers (number or bigint),
 * strings, Uint8Array, booleans, null, undefined, arrays, Maps and plain objects (text keys),
 * and CborTag. Throws AttestationError (E_CBOR_UNSUPPORTED, E_CBOR_DUPLICATE_KEY).
 */
export function encodeDeterministic(value: unknown): Uint8Array {
  const n = normalise(value, 0);
  return new Uint8Array(encoder.encode(n)); // a copy: cbor-x may reuse its buffer
}
