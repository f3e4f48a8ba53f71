// JSON view of verified results (for the CLI and logs): bytes as lowercase hex, Maps as
// objects, bigints as decimal strings. Nothing is dropped.
import { toHex } from "./bytes.js";

export function toJsonValue(v: unknown): unknown {
  if (v instanceof Uint8Array) return toHex(v);
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), toJsonValue(x)]));
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJsonValue(x)]));
  }
  return v;
}
