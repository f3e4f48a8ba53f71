// A progress bar with a live count for long runs (thousands of handsets). On a terminal it
// redraws one line (at most every 100 ms); elsewhere (CI logs) it prints a line at each tenth
// (counts under 50: only the last).
export interface ProgressOptions {
  readonly write?: (text: string) => void;
  /** Redraw in place (default: stderr is a TTY). */
  readonly tty?: boolean;
  readonly width?: number;
  readonly now?: () => number;
}

export class Progress {
  readonly #write: (text: string) => void;
  readonly #tty: boolean;
  readonly #width: number;
  readonly #now: () => number;
  readonly #t0: number;
  #last = -Infinity;
  #tenth = -1;
  #label = "";
  #drawn = false;

  constructor(o: ProgressOptions = {}) {
    this.#write = o.write ?? ((t) => void process.stderr.write(t));
    this.#tty = o.tty ?? process.stderr.isTTY === true;
    this.#width = o.width ?? 30;
    this.#now = o.now ?? (() => performance.now());
    this.#t0 = this.#now();
  }

  /** Reports `done` of `total` for `label` (a new label starts a new bar). */
  update(done: number, total: number, label: string, extra = ""): void {
    const t = this.#now();
    if (label !== this.#label) {
      if (this.#drawn && this.#tty) this.#write("\n");
      this.#label = label;
      this.#tenth = -1;
      this.#last = -Infinity;
    }
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    const finished = done >= total;
    if (this.#tty) {
      if (!finished && t - this.#last < 100) return;
      this.#last = t;
      const fill = Math.round(frac * this.#width);
      const line = `[${"#".repeat(fill)}${".".repeat(this.#width - fill)}] ${String(done).padStart(String(total).length)}/${total} ${label}${extra ? `  ${extra}` : ""}  ${((t - this.#t0) / 1000).toFixed(1)} s`;
      this.#write(`\r${line}\x1b[K${finished ? "\n" : ""}`);
      this.#drawn = !finished;
      if (finished) this.#label = "";
      return;
    }
    // Small counts: only the end; large ones: every tenth.
    const tenth = total >= 50 ? Math.floor(frac * 10) : finished ? 10 : 0;
    if (tenth === this.#tenth || (tenth === 0 && total < 50)) return;
    this.#tenth = tenth;
    this.#write(`  ${label}: ${done}/${total}${extra ? ` (${extra})` : ""}  ${((t - this.#t0) / 1000).toFixed(1)} s\n`);
  }

  /** Ends a bar drawn in place. */
  done(): void {
    if (this.#drawn && this.#tty) this.#write("\n");
    this.#drawn = false;
  }
}
