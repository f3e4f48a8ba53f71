// The owner's timeline of commands (registry/device-view.ts, docs/PORTAL.md §5): each command
// with its times, and a REJECTED one with the handset's reason in words (docs/ABI.md codes).
import { test } from "node:test";
import assert from "node:assert/strict";
import { commandView } from "../registry/device-view.js";
import type { CommandRow } from "../registry/store.js";
import { TA_ERRORS } from "../agent/ta-errors.js";

const row = (over: Partial<CommandRow>): CommandRow => ({
  did: "0".repeat(32), seq: 3, action: 1, message: "Stolen", contact: "+15550100", cose: new Uint8Array(1), status: "QUEUED",
  createdAt: 1_800_000_000_000, sentAt: null, receiptAt: null, resultAt: null, resultCode: null, resultError: null, resultToken: null, ...over,
});

test("timeline: a succeeded lock with its times; a rejected one with the handset's reason in words", () => {
  const ok = commandView(row({ status: "SUCCEEDED", sentAt: 1_800_000_000_100, receiptAt: 1_800_000_000_200, resultAt: 1_800_000_000_300, resultCode: 2 }));
  assert.deepEqual(ok, {
    seq: 3, action: "lock", status: "SUCCEEDED", issuedAt: "2027-01-15T08:00:00.000Z", sentAt: "2027-01-15T08:00:00.100Z",
    receivedAt: "2027-01-15T08:00:00.200Z", resultAt: "2027-01-15T08:00:00.300Z", message: "Stolen", contact: "+15550100",
  });
  const replay = commandView(row({ status: "REJECTED", resultError: TA_ERRORS.ERR_CMD_REPLAY.code, resultAt: 1_800_000_000_300 }));
  assert.equal(replay.reason, "the handset already applied a newer command");
  assert.equal(replay.error, -38);
  const forged = commandView(row({ status: "REJECTED", resultError: TA_ERRORS.ERR_CMD_SIGNATURE.code }));
  assert.equal(forged.reason, "the command is not signed by a registry the handset trusts");
  assert.equal(commandView(row({ status: "REJECTED", resultError: -99 })).reason, "refused by the handset (code -99)");
  assert.equal(commandView(row({ status: "SENT", sentAt: 1_800_000_000_100 })).reason, undefined, "no reason unless refused");
});
