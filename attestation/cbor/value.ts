// The data model the strict decoder produces and the deterministic encoder accepts.
// RFC 8949 §2: integers (major types 0, 1), byte and text strings (2, 3), arrays (4), maps (5),
// tags (6) and the simple values false, true, null, undefined (7). Floats are not used by
// this profile. Integers are numbers when safe (|n| <= 2^53 - 1), bigints otherwise.

export type CborKey = number | bigint | string;
export type CborValue =
  | number
  | bigint
  | string
  | Uint8Array
  | boolean
  | null
  | undefined
  | CborValue[]
  | CborMap
  | CborTag;
export type CborMap = Map<CborKey, CborValue>;

/** A tagged data item (RFC 8949 §3.4). */
export class CborTag {
  constructor(
    readonly tag: number,
    readonly value: CborValue,
  ) {}
}

export function isCborMap(v: unknown): v is CborMap {
  return v instanceof Map;
}

/** A safe unsigned integer (the only integer shape most claims take). */
export function isUint(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}
