import { fits, IO_CAP } from "../io";

describe("io", () => {
  it("has at least the 16384 bytes ABI v1 promises", () => {
    expect(IO_CAP).toBeGreaterThanOrEqual(16384);
  });
  it("fits accepts exactly 0..IO_CAP", () => {
    expect(fits(0)).toBe(true);
    expect(fits(<i64>IO_CAP)).toBe(true);
    expect(fits(<i64>IO_CAP + 1)).toBe(false);
    expect(fits(-1)).toBe(false);
  });
});
