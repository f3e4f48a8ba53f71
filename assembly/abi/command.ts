// ABI v1 export for signed commands (docs/ABI.md, "Commands"; PROTOCOL.md §5).
import { applyCommand } from "../command/command";
import { ERR_LENGTH, ERR_NOT_BOOTED, ERR_NOT_PROVISIONED, ERR_TAMPERED } from "../errors";
import { fits, IO } from "../io";
import { currentState, TA_TAMPERED, TA_UNPROVISIONED } from "../identity/state";

/**
 * apply_command(cmd_len): io = the command's COSE_Sign1 bytes (tag 18 optional).
 * -> the new sealed blob (422 bytes): the host stores it, then sets its counter to the blob's
 * version. Refusals, in order: ERR_LENGTH, ERR_NOT_BOOTED, ERR_TAMPERED, ERR_NOT_PROVISIONED,
 * then the command checks of command/command.ts. A refusal changes nothing.
 */
export function apply_command(cmd_len: i32): i32 {
  if (cmd_len < 0 || !fits(<i64>cmd_len)) return ERR_LENGTH;
  const st = currentState();
  if (st < 0) return ERR_NOT_BOOTED;
  if (st == TA_TAMPERED) return ERR_TAMPERED; // TAMPERED refuses every command and stays locked
  if (st == TA_UNPROVISIONED) return ERR_NOT_PROVISIONED;
  return applyCommand(IO, cmd_len, IO);
}
