// What a device's refusal of a command means, for people: the TA's error name and text for the
// numeric code a REJECTED result carries (agent/ta-errors.ts, docs/ABI.md "Error codes"), and
// the alert a refusal of the registry's own signature raises. A handset that answers
// ERR_CMD_SIGNATURE to a command carrying this registry's signature was provisioned with another
// registry key: it can never be locked from here, so the operator (log event
// alert.registry-key-rejected, metric antitheft_alerts_total{kind="registry-key-rejected"}) and
// the owner (the device view's lastResult and alerts, `owner status`) must learn of it.
import { TA_ERRORS, taErrorName } from "../agent/ta-errors.js";
import type { CommandRow } from "./store.js";
import type { Context } from "./context.js";

export const REGISTRY_KEY_REJECTED = "registry-key-rejected";

/** {code, name, text} of a TA status code; name "ERR_UNKNOWN" for a code the table lacks. */
export function describeTaError(code: number): { code: number; name: string; text: string } {
  const name = taErrorName(code);
  const info = (TA_ERRORS as Record<string, { text: string } | undefined>)[name];
  return { code, name, text: info?.text ?? "a status code this registry does not know" };
}

/** The alert a command's final result raises, if any (derived from the stored job, so it survives restarts). */
export function resultAlert(c: Pick<CommandRow, "status" | "resultError">): string | undefined {
  return c.status === "REJECTED" && c.resultError === TA_ERRORS.ERR_CMD_SIGNATURE.code ? REGISTRY_KEY_REJECTED : undefined;
}

/** After a verified result was stored: log and count the alert it raises. */
export function raiseResultAlert(ctx: Context, cmd: CommandRow, action: string, status: string, error: number | undefined, imei: string | undefined): void {
  if (status !== "REJECTED" || error === undefined) return;
  const kind = resultAlert({ status: "REJECTED", resultError: error });
  if (!kind) return;
  const e = describeTaError(error);
  ctx.metrics?.alert(kind);
  ctx.log.log("error", `alert.${kind}`, {
    did: cmd.did,
    imei,
    seq: cmd.seq,
    action,
    error: e.name,
    reason: `${e.text}: the handset was provisioned with another registry key and cannot be locked by this registry`,
  });
}
