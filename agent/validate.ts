// Argument checks at the host/TA boundary: TypeError for the wrong type, RangeError for the
// wrong size or range, the argument named in the message (as noble-hashes `abytes`/`anumber`).

/** Asserts `value` is a Uint8Array (Buffer included), optionally of exactly `length` bytes. */
export function assertBytes(value: unknown, name: string, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${name} must be a Uint8Array, got ${describeValue(value)}`);
  }
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${name} must be ${length} bytes, got ${value.length}`);
  }
}

/** Asserts `value` is an integer in [min, max]. */
export function assertInt(value: unknown, name: string, min: number, max: number): asserts value is number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${describeValue(value)}`);
  }
  if (value < min || value > max) {
    throw new RangeError(`${name} must be in [${min}, ${max}], got ${value}`);
  }
}

/** Asserts the inputs laid out one after another fit in the TA's I/O buffer. */
export function assertFits(total: number, capacity: number, what: string): void {
  if (total > capacity) {
    throw new RangeError(`${what} take ${total} bytes; the TA's I/O buffer holds ${capacity}`);
  }
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return (value as object).constructor?.name ?? "object";
  return typeof value;
}
