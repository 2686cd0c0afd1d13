/**
 * An ordered list of HTTP header fields, kept as parallel arrays.
 *
 * Names keep the case they arrived with (HTTP/1.1 peers see them unchanged); lookups use the
 * lowercase `keys`. Values are byte strings (one char per byte), as the HTTP/1.1 parser produces
 * them and as Deno's `Headers` holds them.
 *
 * Tested by h1/parse_test.ts and http/headers_test.ts.
 */
export class HeaderList {
  readonly names: string[] = [];
  readonly keys: string[] = [];
  readonly values: string[] = [];

  get size(): number {
    return this.keys.length;
  }

  /** First value of `key` (lowercase), or null. */
  get(key: string): string | null {
    const i = this.keys.indexOf(key);
    return i < 0 ? null : this.values[i];
  }

  /** All values of `key` joined by ", " (for list-valued fields), or null. */
  getJoined(key: string): string | null {
    let out: string | null = null;
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] === key) out = out === null ? this.values[i] : out + ", " + this.values[i];
    }
    return out;
  }

  has(key: string): boolean {
    return this.keys.indexOf(key) >= 0;
  }

  append(name: string, value: string): void {
    this.names.push(name);
    this.keys.push(name.toLowerCase());
    this.values.push(value);
  }

  /** Adds a field whose name is already lowercase (no case conversion on the hot path). */
  appendLower(key: string, value: string): void {
    this.names.push(key);
    this.keys.push(key);
    this.values.push(value);
  }

  /** Replaces every field named `key` (lowercase) by one field. */
  set(key: string, value: string): void {
    const i = this.keys.indexOf(key);
    if (i < 0) {
      this.appendLower(key, value);
      return;
    }
    this.values[i] = value;
    for (let j = this.keys.length - 1; j > i; j--) {
      if (this.keys[j] === key) this.#removeAt(j);
    }
  }

  delete(key: string): void {
    for (let j = this.keys.length - 1; j >= 0; j--) {
      if (this.keys[j] === key) this.#removeAt(j);
    }
  }

  /** Keeps only the fields for which `keep(key, value)` is true. */
  filter(keep: (key: string, value: string) => boolean): void {
    let w = 0;
    for (let r = 0; r < this.keys.length; r++) {
      if (!keep(this.keys[r], this.values[r])) continue;
      if (w !== r) {
        this.names[w] = this.names[r];
        this.keys[w] = this.keys[r];
        this.values[w] = this.values[r];
      }
      w++;
    }
    this.names.length = w;
    this.keys.length = w;
    this.values.length = w;
  }

  /** Pairs of [name, value] in order (for Deno's Headers and for tests). */
  entries(): [string, string][] {
    const out: [string, string][] = new Array(this.keys.length);
    for (let i = 0; i < this.keys.length; i++) out[i] = [this.names[i], this.values[i]];
    return out;
  }

  static from(pairs: Iterable<readonly [string, string]>): HeaderList {
    const list = new HeaderList();
    for (const [name, value] of pairs) list.append(name, value);
    return list;
  }

  #removeAt(i: number): void {
    this.names.splice(i, 1);
    this.keys.splice(i, 1);
    this.values.splice(i, 1);
  }
}

/** True when the comma-separated list `value` holds `token` (case-insensitive). */
export function listHasToken(value: string | null, token: string): boolean {
  if (value === null) return false;
  const lower = value.toLowerCase();
  let from = 0;
  while (from <= lower.length) {
    const comma = lower.indexOf(",", from);
    const end = comma < 0 ? lower.length : comma;
    if (trimOws(lower.slice(from, end)) === token) return true;
    if (comma < 0) return false;
    from = comma + 1;
  }
  return false;
}

/** The comma-separated tokens of `value`, trimmed and lowercased, empty ones dropped. */
export function listTokens(value: string | null): string[] {
  if (value === null) return [];
  const out: string[] = [];
  for (const part of value.split(",")) {
    const t = trimOws(part).toLowerCase();
    if (t !== "") out.push(t);
  }
  return out;
}

/**
 * `s` without leading and trailing SP and HTAB (OWS, RFC 9110 5.6.3), and nothing else: not
 * String.trim's no-break space, vertical tab or line feeds.
 */
export function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}
