/**
 * What SQL text makes SQLite open, found before SQLite runs it (hooks/sqlite.ts), and which file a
 * SQLite file name names.
 *
 * SQL opens files with three statements: `ATTACH [DATABASE] expr AS name`, `VACUUM [schema] INTO expr`
 * and `PRAGMA temp_store_directory = dir`. A statement starts at the start of the text or after a `;`
 * (a trigger body's `;` too: that over-counts, never misses), after any `EXPLAIN [QUERY PLAN]`. The
 * text is tokenised the way SQLite's tokenizer (tokenize.c, sqlite3GetToken, 3.51) does, so that
 * nothing can hide in what only looks like a string or a comment: `'...'` with `''`, `"..."`,
 * `` `...` `` and `[...]` names, `--` and `/* *\/` comments, `x'...'` blobs, and the TCL-style
 * variables `$a(...)`, `@a(...)`, `:a(...)`, `#a(...)` whose parentheses swallow quotes and
 * semicolons up to the first space or `)`. Keywords are matched ASCII case-insensitively, as SQLite
 * does; a byte-order mark at the start of a token is a space, as it is to SQLite. SQLite reads the
 * text as a C string: it ends at the first NUL.
 *
 * The file name of ATTACH and VACUUM INTO is any expression (a bound parameter, a concatenation):
 * only a single literal is known before the statement runs; anything else is reported as an
 * expression, for the hook to judge without a path.
 */
import { cString, stringCharCodeAt, stringSlice, toLowerCase } from '../../intrinsics.js';

export type SqlFileUseKind = 'ATTACH' | 'VACUUM INTO' | 'PRAGMA temp_store_directory';

export interface SqlFileUse {
  kind: SqlFileUseKind;
  /** The file (or directory) name when it is one literal, else null. */
  literal: string | null;
  /** The source text of the name's expression, whitespace collapsed (for the event's target). */
  expression: string;
}

enum Kind {
  Word,
  /** a '...' string */
  String,
  /** a "...", `...` or [...] name */
  QuotedName,
  Semicolon,
  Dot,
  Equals,
  OpenParen,
  Other,
}

interface Token {
  kind: Kind;
  start: number;
  end: number;
  /** words: the text ASCII-lowercased; strings and quoted names: the dequoted value */
  value: string;
}

// captured when the bundle loads, before the app can replace them
const fromCharCode = String.fromCharCode;
const Bytes = Uint8Array;
const NONE: readonly SqlFileUse[] = Object.freeze([]);
const cache = new Map<string, readonly SqlFileUse[]>();
const MAX_CACHED = 256;

/** The statements of `sql` that open files, in order (cached per text). */
export function fileUsesOf(sql: string): readonly SqlFileUse[] {
  const text = cString(sql);
  // all three need their keyword spelt out in the text (no escapes exist outside quotes, and a
  // quoted pragma name holds it too); toLowerCase only ever adds matches (a Kelvin sign becomes 'k')
  const lower = toLowerCase(text);
  if (!includes(lower, 'attach') && !includes(lower, 'vacuum') && !includes(lower, 'temp_store_directory'))
    return NONE;
  const known = cache.get(text);
  if (known) return known;
  const uses = scan(text);
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(text, uses);
  return uses;
}

const stringIncludes = String.prototype.includes;
function includes(text: string, search: string): boolean {
  return Reflect.apply(stringIncludes, text, [search]) as boolean;
}

function scan(sql: string): readonly SqlFileUse[] {
  const uses: SqlFileUse[] = [];
  let statement: Token[] = [];
  const tokens = tokenize(sql);
  for (let i = 0; i <= tokens.length; i++) {
    const token = tokens[i];
    if (token === undefined || token.kind === Kind.Semicolon) {
      const use = statement.length > 0 ? fileUseOf(sql, statement) : null;
      if (use) uses[uses.length] = use;
      statement = [];
    } else statement[statement.length] = token;
  }
  return uses.length === 0 ? NONE : uses;
}

function isWord(token: Token | undefined, word: string): boolean {
  return token !== undefined && token.kind === Kind.Word && token.value === word;
}

function fileUseOf(sql: string, tokens: Token[]): SqlFileUse | null {
  let i = 0;
  while (isWord(tokens[i], 'explain') || isWord(tokens[i], 'query') || isWord(tokens[i], 'plan')) i++;
  const head = tokens[i];
  if (isWord(head, 'attach')) {
    let first = i + 1;
    if (isWord(tokens[first], 'database')) first++;
    let end = first;
    while (end < tokens.length && !isWord(tokens[end], 'as')) end++;
    return use('ATTACH', sql, tokens, first, end, attachLiteral);
  }
  if (isWord(head, 'vacuum')) {
    let into = i + 1;
    while (into < tokens.length && !isWord(tokens[into], 'into')) into++;
    if (into >= tokens.length) return null;
    return use('VACUUM INTO', sql, tokens, into + 1, tokens.length, quotedLiteral);
  }
  if (isWord(head, 'pragma')) {
    // PRAGMA [schema.]name [= value | (value)]; the name may be quoted
    let name = i + 1;
    if (tokens[name + 1]?.kind === Kind.Dot) name += 2;
    if (pragmaName(tokens[name]) !== 'temp_store_directory') return null;
    const operator = tokens[name + 1];
    if (!operator || (operator.kind !== Kind.Equals && operator.kind !== Kind.OpenParen)) return null;
    let end = name + 2;
    while (end < tokens.length && !(tokens[end]?.kind === Kind.Other && sql[tokens[end]?.start ?? 0] === ')'))
      end++;
    return use('PRAGMA temp_store_directory', sql, tokens, name + 2, end, attachLiteral);
  }
  return null;
}

function use(
  kind: SqlFileUseKind,
  sql: string,
  tokens: Token[],
  first: number,
  end: number,
  literalOf: (token: Token, sql: string) => string | null,
): SqlFileUse {
  const only = end === first + 1 ? tokens[first] : undefined;
  const literal = only ? literalOf(only, sql) : null;
  const from = tokens[first]?.start ?? sql.length;
  const to = end > first ? (tokens[end - 1]?.end ?? from) : from;
  return { kind, literal, expression: collapse(stringSlice(sql, from, to)) };
}

/** SQLite keywords that are values, not names, where ATTACH takes a name (attach.c turns a name into a string). */
const VALUE_KEYWORDS = ['null', 'current_date', 'current_time', 'current_timestamp'];

function attachLiteral(token: Token, sql: string): string | null {
  if (token.kind === Kind.String || token.kind === Kind.QuotedName) return token.value;
  if (token.kind !== Kind.Word) return null;
  for (let i = 0; i < VALUE_KEYWORDS.length; i++) if (token.value === VALUE_KEYWORDS[i]) return null;
  // a bare name is the file name as written, in its own case
  return stringSlice(sql, token.start, token.end);
}

function quotedLiteral(token: Token): string | null {
  return token.kind === Kind.String || token.kind === Kind.QuotedName ? token.value : null;
}

/** A pragma's name as SQLite looks it up (ASCII case-insensitively), or null. */
function pragmaName(token: Token | undefined): string | null {
  if (!token) return null;
  if (token.kind === Kind.Word) return token.value;
  if (token.kind === Kind.String || token.kind === Kind.QuotedName) return asciiLower(token.value);
  return null;
}

function collapse(text: string): string {
  let out = '';
  let space = false;
  for (let i = 0; i < text.length && out.length < 200; i++) {
    const c = stringCharCodeAt(text, i);
    if (isSpace(c)) space = out.length > 0;
    else {
      if (space) out += ' ';
      space = false;
      out += text[i];
    }
  }
  return out;
}

// --- the tokenizer (sqlite3GetToken) -------------------------------------------------------------

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** SQLite's tokenizer space (CC_SPACE): not \v, which it refuses. */
function isTokenSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** IdChar: letters, digits, `_`, `$` and every byte of a multi-byte UTF-8 character. */
function isIdChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    isDigit(c) ||
    c === 0x5f ||
    c === 0x24 ||
    c >= 0x80
  );
}

function asciiLower(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = stringCharCodeAt(text, i);
    out += c >= 0x41 && c <= 0x5a ? fromCharCode(c + 0x20) : text[i];
  }
  return out;
}

function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  const n = sql.length;
  let i = 0;
  const push = (kind: Kind, start: number, end: number, value = ''): void => {
    tokens[tokens.length] = { kind, start, end, value };
  };
  while (i < n) {
    const start = i;
    const c = stringCharCodeAt(sql, i);
    if (isTokenSpace(c) || c === 0xfeff) {
      i++;
      continue;
    }
    if (c === 0x2d /* - */ && stringCharCodeAt(sql, i + 1) === 0x2d) {
      i += 2;
      while (i < n && stringCharCodeAt(sql, i) !== 0x0a) i++;
      continue;
    }
    if (c === 0x2f /* / */ && stringCharCodeAt(sql, i + 1) === 0x2a /* * */) {
      // closed by the first */ from the character after /* on ("/*/" does not close)
      i += 2;
      while (i < n && !(stringCharCodeAt(sql, i) === 0x2a && stringCharCodeAt(sql, i + 1) === 0x2f)) i++;
      i = i < n ? i + 2 : n;
      continue;
    }
    if (c === 0x27 /* ' */ || c === 0x22 /* " */ || c === 0x60 /* ` */) {
      let value = '';
      i++;
      let closed = false;
      while (i < n) {
        const d = stringCharCodeAt(sql, i);
        if (d === c) {
          if (stringCharCodeAt(sql, i + 1) === c) {
            value += sql[i];
            i += 2;
            continue;
          }
          i++;
          closed = true;
          break;
        }
        value += sql[i];
        i++;
      }
      // unterminated: an illegal token, nothing after it runs
      if (!closed) break;
      push(c === 0x27 ? Kind.String : Kind.QuotedName, start, i, value);
      continue;
    }
    if (c === 0x5b /* [ */) {
      i++;
      while (i < n && stringCharCodeAt(sql, i) !== 0x5d) i++;
      if (i >= n) break;
      i++;
      push(Kind.QuotedName, start, i, stringSlice(sql, start + 1, i - 1));
      continue;
    }
    if ((c === 0x78 || c === 0x58) /* x X */ && stringCharCodeAt(sql, i + 1) === 0x27) {
      // a blob literal ends at the next quote, with no '' escape
      i += 2;
      while (i < n && stringCharCodeAt(sql, i) !== 0x27) i++;
      if (i >= n) break;
      i++;
      push(Kind.Other, start, i);
      continue;
    }
    if (c === 0x24 /* $ */ || c === 0x40 /* @ */ || c === 0x3a /* : */ || c === 0x23 /* # */) {
      // a named variable, with SQLite's TCL extensions: `::` inside, and a `(...)` suffix that ends
      // at the first space or `)` whatever it holds
      let named = 0;
      i++;
      while (i < n) {
        const d = stringCharCodeAt(sql, i);
        if (isIdChar(d)) {
          named++;
          i++;
        } else if (d === 0x28 /* ( */ && named > 0) {
          i++;
          while (i < n && !isSpace(stringCharCodeAt(sql, i)) && stringCharCodeAt(sql, i) !== 0x29) i++;
          if (i < n && stringCharCodeAt(sql, i) === 0x29) i++;
          break;
        } else if (d === 0x3a && stringCharCodeAt(sql, i + 1) === 0x3a) {
          i += 2;
        } else break;
      }
      push(Kind.Other, start, i);
      continue;
    }
    if (isDigit(c) || (c === 0x2e && isDigit(stringCharCodeAt(sql, i + 1)))) {
      // a number (with any identifier characters glued to it, an illegal token to SQLite); the sign
      // of an exponent ends it here, which changes nothing that matters (no quote, comment or `;`)
      i++;
      while (i < n && (isIdChar(stringCharCodeAt(sql, i)) || stringCharCodeAt(sql, i) === 0x2e)) i++;
      push(Kind.Other, start, i);
      continue;
    }
    if (isIdChar(c)) {
      i++;
      while (i < n && isIdChar(stringCharCodeAt(sql, i))) i++;
      push(Kind.Word, start, i, asciiLower(stringSlice(sql, start, i)));
      continue;
    }
    i++;
    if (c === 0x3b) push(Kind.Semicolon, start, i);
    else if (c === 0x2e) push(Kind.Dot, start, i);
    else if (c === 0x3d) push(Kind.Equals, start, i);
    else if (c === 0x28) push(Kind.OpenParen, start, i);
    else push(Kind.Other, start, i);
  }
  return tokens;
}

// --- SQLite file names ---------------------------------------------------------------------------

export interface SqliteFile {
  /** The file's path as SQLite will open it (bytes: a URI file name may %-encode any byte). */
  path: Uint8Array;
  /** The file name asked for read-only access (`?mode=ro`). */
  readOnly: boolean;
}

const FILE_PREFIX = [0x66, 0x69, 0x6c, 0x65, 0x3a]; // "file:"
const MEMORY = [0x3a, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x3a]; // ":memory:"

/**
 * The file SQLite opens for the file name `name` (UTF-8 bytes), with URI file names on (Node opens
 * with them, and ATTACH inherits that): `file:` URIs as sqlite3ParseUri reads them (an authority of
 * `localhost` or none, %XX escapes, %00 ending the part, `?` the query, `#` the end), or null when it
 * opens none: `:memory:`, `''` (a private temporary database) and `?mode=memory`.
 * @param uri false for the names SQLite opens without URI file names (backup's destination)
 */
export function sqliteFileOf(name: Uint8Array, uri = true): SqliteFile | null {
  let path: number[] = [];
  let readOnly = false;
  let modes = 0;
  let memoryModes = 0;
  if (uri && startsWithBytes(name, FILE_PREFIX)) {
    let i = 5;
    if (name[5] === 0x2f && name[6] === 0x2f) {
      // the authority (empty or localhost: SQLite refuses others, but the path is judged regardless)
      i = 7;
      while (i < name.length && name[i] !== 0x2f) i++;
    }
    // state 0: the path; 1: a parameter name; 2: a parameter value
    let state = 0;
    let key: number[] = [];
    let value: number[] = [];
    const endParameter = (): void => {
      if (bytesEqualText(key, 'mode')) {
        modes++;
        if (bytesEqualText(value, 'memory')) memoryModes++;
        readOnly = bytesEqualText(value, 'ro');
      }
      key = [];
      value = [];
    };
    while (i < name.length && name[i] !== 0x23 /* # */) {
      let c = name[i++] as number;
      if (c === 0x25 /* % */ && isHex(name[i]) && isHex(name[i + 1])) {
        c = hexValue(name[i] as number) * 16 + hexValue(name[i + 1] as number);
        i += 2;
        if (c === 0) {
          // %00: the rest of this path, name or value is ignored
          while (
            i < name.length &&
            name[i] !== 0x23 &&
            (state !== 0 || name[i] !== 0x3f) &&
            (state !== 1 || (name[i] !== 0x3d && name[i] !== 0x26)) &&
            (state !== 2 || name[i] !== 0x26)
          )
            i++;
          continue;
        }
      } else if (state === 0 && c === 0x3f /* ? */) {
        state = 1;
        continue;
      } else if (state === 1 && (c === 0x3d /* = */ || c === 0x26) /* & */) {
        if (c === 0x26) endParameter();
        else state = 2;
        continue;
      } else if (state === 2 && c === 0x26) {
        endParameter();
        state = 1;
        continue;
      }
      if (state === 0) path[path.length] = c;
      else if (state === 1) key[key.length] = c;
      else value[value.length] = c;
    }
    if (state !== 0) endParameter();
    if (modes > 0 && memoryModes === modes) return null;
  } else {
    path = [];
    for (let i = 0; i < name.length; i++) {
      if (name[i] === 0) break;
      path[i] = name[i] as number;
    }
  }
  if (path.length === 0 || bytesEqual(path, MEMORY)) return null;
  return { path: toBytes(path), readOnly };
}

function startsWithBytes(bytes: Uint8Array, prefix: number[]): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

function bytesEqual(bytes: number[], other: number[]): boolean {
  if (bytes.length !== other.length) return false;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== other[i]) return false;
  return true;
}

function bytesEqualText(bytes: number[], text: string): boolean {
  if (bytes.length !== text.length) return false;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== stringCharCodeAt(text, i)) return false;
  return true;
}

function isHex(c: number | undefined): boolean {
  return (
    c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66))
  );
}

function hexValue(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10;
}

const encoder = new TextEncoder();
const encode = Function.prototype.call.bind(TextEncoder.prototype.encode) as (
  encoder: object,
  text: string,
) => Uint8Array;

/** The UTF-8 bytes of `text` as V8 hands them to C++ (a lone surrogate becomes U+FFFD, as here). */
export function utf8(text: string): Uint8Array {
  return encode(encoder, text);
}

/** Index by index: `new Uint8Array(array)` would ask the (replaceable) array iterator. */
function toBytes(values: number[]): Uint8Array {
  const bytes = new Bytes(values.length);
  for (let i = 0; i < values.length; i++) bytes[i] = values[i] as number;
  return bytes;
}
