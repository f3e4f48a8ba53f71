import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Backoff } from "../agent/backoff.js";
import { ManualClock } from "../agent/clock.js";

const almostOne = () => 1 - Number.EPSILON;

test("ceilings grow by the factor from the base and stop at the cap", () => {
  const b = new Backoff({ baseMs: 100, capMs: 5000, factor: 2, random: almostOne, clock: new ManualClock() });
  const ceilings: number[] = [];
  const delays: number[] = [];
  for (let i = 0; i < 10; i++) {
    ceilings.push(b.ceiling());
    delays.push(b.next());
  }
  assert.deepEqual(ceilings, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000]);
  // random just below 1 gives the ceiling itself (full jitter is inclusive of its bound)
  assert.deepEqual(delays, ceilings);
  assert.equal(b.attempt, 10);
});

test("full jitter: random 0 gives no wait; every delay lies in [0, ceiling] (property)", () => {
  const zero = new Backoff({ baseMs: 500, capMs: 30_000, random: () => 0 });
  for (let i = 0; i < 20; i++) assert.equal(zero.next(), 0);
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 10_000 }),
      fc.integer({ min: 0, max: 100_000 }),
      fc.double({ min: 1, max: 4, noNaN: true }),
      fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 40 }),
      (base, extra, factor, randoms) => {
        let i = 0;
        const b = new Backoff({ baseMs: base, capMs: base + extra, factor, random: () => randoms[i++ % randoms.length]! });
        for (let n = 0; n < randoms.length; n++) {
          const ceiling = b.ceiling();
          assert.ok(ceiling <= base + extra && ceiling >= base, `ceiling ${ceiling}`);
          const d = b.next();
          assert.ok(Number.isInteger(d) && d >= 0 && d <= ceiling, `delay ${d} outside [0, ${ceiling}]`);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test("a broken random source neither hangs nor exceeds the cap", () => {
  for (const r of [NaN, -1, 1, 7, Infinity]) {
    const b = new Backoff({ baseMs: 10, capMs: 100, random: () => r });
    for (let i = 0; i < 8; i++) {
      const d = b.next();
      assert.ok(d >= 0 && d <= 100, `random ${r} gave ${d}`);
    }
  }
});

test("reset after a success starts again from the base", () => {
  const b = new Backoff({ baseMs: 250, capMs: 8000, random: almostOne });
  b.next();
  b.next();
  b.next();
  assert.equal(b.ceiling(), 2000);
  b.reset();
  assert.equal(b.attempt, 0);
  assert.equal(b.ceiling(), 250);
  assert.equal(b.next(), 250);
});

test("schedule fires exactly after the drawn delay on fake time; cancel and re-schedule", () => {
  const clock = new ManualClock(1000);
  const b = new Backoff({ baseMs: 400, capMs: 10_000, random: () => 0.5, clock });
  const fired: number[] = [];
  const d1 = b.schedule(() => fired.push(clock.now()));
  assert.equal(d1, 200); // floor(0.5 * (400 + 1))
  assert.ok(b.pending);
  clock.advance(199);
  assert.equal(fired.length, 0);
  clock.advance(1);
  assert.deepEqual(fired, [1200]);
  assert.equal(b.pending, false);

  const d2 = b.schedule(() => fired.push(-1));
  assert.equal(d2, 400); // floor(0.5 * 801)
  b.cancel();
  clock.advance(10_000);
  assert.deepEqual(fired, [1200], "a cancelled call never runs");

  // scheduling again replaces the waiting call: only the last one runs
  b.schedule(() => fired.push(1));
  b.schedule(() => fired.push(2));
  assert.equal(clock.pendingCount, 1);
  clock.advance(10_000);
  assert.deepEqual(fired, [1200, 2]);
});

test("options are validated at the boundary", () => {
  assert.throws(() => new Backoff({ baseMs: 0 }), RangeError);
  assert.throws(() => new Backoff({ baseMs: 100, capMs: 50 }), RangeError);
  assert.throws(() => new Backoff({ factor: 0.5 }), RangeError);
  assert.throws(() => new Backoff({ capMs: NaN }), RangeError);
});

test("ManualClock fires due timers in order, including ones scheduled while advancing", () => {
  const c = new ManualClock();
  const log: string[] = [];
  c.setTimeout(() => log.push("b@20"), 20);
  c.setTimeout(() => {
    log.push("a@10");
    c.setTimeout(() => log.push("c@15"), 5);
  }, 10);
  const cancelled = c.setTimeout(() => log.push("never"), 12);
  c.clearTimeout(cancelled);
  assert.equal(c.nextDelay(), 10);
  c.advance(25);
  assert.deepEqual(log, ["a@10", "c@15", "b@20"]);
  assert.equal(c.now(), 25);
  assert.equal(c.nextDelay(), undefined);
});
