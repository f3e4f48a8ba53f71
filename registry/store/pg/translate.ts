// Parameters of the registry's SQL, from better-sqlite3's style to PostgreSQL's: positional `?`
// and named `@name` become `$1`, `$2`, ... The statements themselves are written once for both
// engines (docs/STORAGE.md §3): ON CONFLICT instead of INSERT OR IGNORE/REPLACE, RETURNING
// instead of lastInsertRowid, CASE instead of the two-argument max().

/** A statement's text for PostgreSQL and where each $n comes from: an argument index or a property name. */
export interface Translated {
  readonly text: string;
  readonly order: readonly (number | string)[];
}

export function translate(sql: string): Translated {
  const order: (number | string)[] = [];
  const named = new Map<string, number>();
  let out = "";
  let positional = 0;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      // a string literal or quoted identifier, copied whole ('' inside is an escaped quote)
      const end = sql.indexOf(c, i + 1);
      if (end < 0) throw new SyntaxError(`unterminated ${c} in SQL: ${sql}`);
      out += sql.slice(i, end + 1);
      i = end;
    } else if (c === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i);
      const stop = end < 0 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop - 1;
    } else if (c === "?") {
      order.push(positional++);
      out += `$${order.length}`;
    } else if (c === "@" && /[A-Za-z_]/.test(sql[i + 1] ?? "")) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1))!;
      const name = m[0];
      let n = named.get(name);
      if (n === undefined) {
        order.push(name);
        n = order.length;
        named.set(name, n);
      }
      out += `$${n}`;
      i += name.length;
    } else {
      out += c;
    }
  }
  return { text: out, order };
}

/** The values for `$1..$n`, from the arguments of run/get/all (positional values, or one object of named ones). */
export function bind(t: Translated, args: readonly unknown[]): unknown[] {
  // a statement written for PostgreSQL alone ($1, $2, ...): the arguments as they are
  if (t.order.length === 0) return args.map((v) => (typeof v === "bigint" ? v.toString() : v));
  const obj = args.length === 1 && isPlainObject(args[0]) ? (args[0] as Record<string, unknown>) : undefined;
  return t.order.map((k) => {
    const v = typeof k === "number" ? args[k] : obj?.[k];
    if (v === undefined) throw new RangeError(`missing SQL parameter ${typeof k === "number" ? `#${k + 1}` : `@${k}`}`);
    return typeof v === "bigint" ? v.toString() : v;
  });
}

function isPlainObject(v: unknown): boolean {
  return typeof v === "object" && v !== null && !(v instanceof Uint8Array) && !Array.isArray(v);
}
