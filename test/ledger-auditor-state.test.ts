// The auditor never moves backwards (docs/LEDGER.md §8): its saved state keeps the newest tree
// head it verified. A registry that serves an older head - even one it can prove consistent - is
// reported stale and cannot make the auditor forget the newer head, so a history that branches
// before that head is refused later, incrementally or with --full.
import { test } from "node:test";
import assert from "node:assert/strict";
import { toHex } from "../attestation/index.js";
import { audit, type AuditReport } from "../registry/ledger/auditor.js";
import { HostileLog, History } from "./support/ledger-views.js";

const fails = (r: AuditReport) => r.findings.filter((x) => x.level === "fail").map((x) => x.code);

for (const full of [false, true]) {
  test(`a stale head is reported and does not roll the saved state back; a branch from before the newer head is refused${full ? " (--full)" : ""}`, async () => {
    const log = new HostileLog();
    const hex = toHex(log.key.kid);
    const honest = log.history().grow(6, 1);
    log.show(honest);
    const first = await audit([log.target], undefined, { fetch: log.fetch, sample: 2 });
    assert.deepEqual(fails(first), [], JSON.stringify(first.findings));
    assert.equal(first.state.logs[hex]!.size, 6);

    // An older head of the same history: consistent, but stale.
    log.show(honest, honest.head(3));
    const stale = await audit([log.target], first.state, { fetch: log.fetch, full, sample: 2 });
    assert.ok(stale.findings.some((x) => x.code === "E_LEDGER_STALE"), JSON.stringify(stale.findings));
    assert.deepEqual(stale.state.logs[hex], first.state.logs[hex], "the state keeps the newer head");

    // A history that agrees with the stale head but branches at 4, before the head of size 6.
    const branch = new History(log.key, honest, 4).grow(4, 9);
    log.show(branch);
    const forked = await audit([log.target], stale.state, { fetch: log.fetch, full, sample: 2 });
    assert.equal(forked.inconsistent, true, JSON.stringify(forked.findings));
    assert.ok(fails(forked).includes("E_LEDGER_INCONSISTENT"), JSON.stringify(forked.findings));
    assert.deepEqual(forked.state.logs[hex], first.state.logs[hex], "a branch never becomes the saved state");

    // And the honest log, grown, still audits clean from the kept state.
    honest.grow(2, 1);
    log.show(honest);
    const later = await audit([log.target], forked.state, { fetch: log.fetch, full, sample: 2 });
    assert.deepEqual(fails(later), [], JSON.stringify(later.findings));
    assert.equal(later.state.logs[hex]!.size, 8);
  });
}

test("a stale head that cannot be proved consistent with the newer one is a fork", async () => {
  const log = new HostileLog();
  const honest = log.history().grow(6, 1);
  log.show(honest);
  const first = await audit([log.target], undefined, { fetch: log.fetch, sample: 1 });
  const branch = new History(log.key, honest, 2).grow(2, 7); // size 4, branching at 2
  log.show(branch);
  const r = await audit([log.target], first.state, { fetch: log.fetch, sample: 1 });
  assert.ok(fails(r).includes("E_LEDGER_FORK"), JSON.stringify(r.findings));
  assert.deepEqual(r.state.logs[toHex(log.key.kid)], first.state.logs[toHex(log.key.kid)]);
});
