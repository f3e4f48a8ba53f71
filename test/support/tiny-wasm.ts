// A hand-assembled module that looks like a TA (memory, io_ptr, io_cap) but misbehaves on
// demand, to test how the host wrapper handles abort, traps and impossible statuses.
//   io_ptr() = 1024, io_cap() = 64, echo(x) = x, boom() calls env.abort("bad", 0, 7, 3),
//   trap() executes `unreachable`.

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
}
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const name = (s: string) => [...uleb(s.length), ...Buffer.from(s, "utf8")];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const I32 = 0x7f;

export function misbehavingTaBytes(): Uint8Array<ArrayBuffer> {
  const types = vec([
    [0x60, 0, 1, I32], // 0: () -> i32
    [0x60, 4, I32, I32, I32, I32, 0], // 1: (i32 x4) -> ()
    [0x60, 1, I32, 1, I32], // 2: (i32) -> i32
  ]);
  const imports = vec([[...name("env"), ...name("abort"), 0x00, 1]]);
  const funcs = vec([[0], [0], [2], [0], [0]]); // io_ptr, io_cap, echo, boom, trap
  const memory = vec([[0x00, 1]]);
  const exports = vec([
    [...name("memory"), 0x02, 0],
    [...name("io_ptr"), 0x00, 1],
    [...name("io_cap"), 0x00, 2],
    [...name("echo"), 0x00, 3],
    [...name("boom"), 0x00, 4],
    [...name("trap"), 0x00, 5],
  ]);
  const body = (code: number[]) => {
    const b = [0, ...code, 0x0b]; // no locals
    return [...uleb(b.length), ...b];
  };
  const code = vec([
    body([0x41, ...sleb(1024)]),
    body([0x41, ...sleb(64)]),
    body([0x20, 0]),
    body([0x41, ...sleb(20), 0x41, 0, 0x41, 7, 0x41, 3, 0x10, 0, 0x41, 0]),
    body([0x00]),
  ]);
  // AssemblyScript string "bad": byte length at 16, UTF-16LE text at 20
  const text = [...Buffer.from("bad", "utf16le")];
  const data = vec([[0x00, 0x41, ...sleb(16), 0x0b, ...uleb(4 + text.length), text.length, 0, 0, 0, ...text]]);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, types),
    ...section(2, imports),
    ...section(3, funcs),
    ...section(5, memory),
    ...section(7, exports),
    ...section(10, code),
    ...section(11, data),
  ]);
}
