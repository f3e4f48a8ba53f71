// The static I/O buffer of ABI v1 (docs/ABI.md). Inputs are written here by the host,
// outputs are written back at its start. Nothing is allocated across the boundary.

/** Capacity of the I/O buffer in bytes (ABI v1: at least 16384). */
export const IO_CAP: i32 = 16384;

/** Address of the I/O buffer: a static region in linear memory. */
export const IO: usize = memory.data(IO_CAP, 16);

/** True when `a + b + ...` lengths are each >= 0 and their sum fits in the I/O buffer. */
// @ts-ignore: decorator
@inline
export function fits(total: i64): bool {
  return total >= 0 && total <= <i64>IO_CAP;
}
