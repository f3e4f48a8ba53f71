// Trusted App entry point: the exports of ABI v1 (docs/ABI.md). Every export takes i32
// lengths, reads its inputs from the static I/O buffer and returns a length or an error code.
import { IO, IO_CAP } from "./io";

/** Address of the static I/O buffer. */
export function io_ptr(): i32 {
  return <i32>IO;
}

/** Size of the static I/O buffer in bytes. */
export function io_cap(): i32 {
  return IO_CAP;
}
export * from "./abi/crypto";
export * from "./abi/identity";
export * from "./abi/command";
