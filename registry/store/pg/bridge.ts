// What the main thread (store/pg/sync-client.ts) and the connection's worker thread
// (store/pg/worker.ts) exchange: requests and replies on a MessagePort, counters in a shared
// Int32Array, connection state events on the worker's parent port (docs/STORAGE.md §2, §7).
import type { MessagePort } from "node:worker_threads";

export interface WorkerInit {
  readonly url: string;
  readonly signal: SharedArrayBuffer;
  readonly port: MessagePort;
  readonly channel: string;
  readonly reconnect?: { readonly minMs: number; readonly maxMs: number };
  /** A statement with no answer after this long means a dead connection (default 35 s). */
  readonly answerTimeoutMs?: number;
}

/** `epoch`: run only on this connection (a statement of an open transaction). */
export type Request =
  | { readonly op: "query"; readonly text: string; readonly values: readonly unknown[]; readonly name?: string; readonly epoch?: number }
  | { readonly op: "exec"; readonly text: string; readonly epoch?: number }
  | { readonly op: "close" };

export type Reply =
  | { readonly ok: true; readonly rows: Record<string, unknown>[]; readonly fields: string[]; readonly rowCount: number; readonly epoch: number }
  | { readonly ok: false; readonly message: string; readonly code: string | undefined };

/** Connection state changes, posted to the parent (SyncPg.onState). */
export type StateEvent =
  | { readonly type: "lost"; readonly error: string; readonly epoch: number }
  | { readonly type: "restored"; readonly epoch: number; readonly downMs: number; readonly attempts: number; readonly refused: number };

/** SQLSTATE of every "the connection is gone" answer (class 08, connection_failure). */
export const UNAVAILABLE = "08006";
/** SQLSTATE of a connection lost while COMMIT was in flight (transaction_resolution_unknown). */
export const IN_DOUBT = "08007";

/**
 * Indexes into the shared Int32Array: answers posted (the main thread waits on it), the cache's
 * generation (notifications, losses, reconnects), the connection's epoch, 1 while connected.
 */
export const SIG = { ANSWERS: 0, GENERATION: 1, EPOCH: 2, UP: 3 } as const;
export const SIG_BYTES = 16;
