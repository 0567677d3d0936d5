/**
 * Filesystem paths: turning what an fs call received into one absolute, lexically normalised POSIX path,
 * and deciding whether the filesystem policy governs it. Pure string work (no `node:path`), so the
 * engine bundles anywhere. Symbolic links are deliberately not resolved: that would cost a syscall per
 * decision, and every directory we govern (/tmp, the task root) is governed as a whole, so a link inside
 * them is judged where it lives.
 */
import {
  stringCharCodeAt,
  stringEndsWith,
  stringIncludes,
  stringIndexOf,
  stringSlice,
  stringStartsWith,
} from './primordials.js';

/** The directory governed besides the application directories (Lambda's only writable place). */
export const TMP_DIR = '/tmp';

export interface ToAbsolutePathOptions {
  /**
   * Read strings that start with `file:` as file URLs. Off by default because Node's fs reads a string
   * as a literal path (`fs.readFileSync('file:///etc/passwd')` opens `./file:/etc/passwd`); turn it on
   * for APIs that take URL strings (module loading, workers).
   */
  fileUrlStrings?: boolean;
}

let utf8Decoder: InstanceType<typeof TextDecoder> | undefined;

/**
 * The absolute, normalised path an fs path argument names, or null when it names no file (empty, NUL
 * bytes, a non-file URL, a file URL with a host or an encoded '/', a relative path with a non-absolute cwd).
 * Accepts strings, Buffers / Uint8Arrays and `URL` objects, like Node's fs.
 * @example toAbsolutePath('../etc/passwd', '/var/task') // '/var/etc/passwd'
 * @example toAbsolutePath(new URL('file:///tmp/a%20b'), '/') // '/tmp/a b'
 * @example toAbsolutePath(Buffer.from('/tmp/x/../y'), '/') // '/tmp/y'
 */
export function toAbsolutePath(
  input: string | Uint8Array | URL,
  cwd: string,
  options: ToAbsolutePathOptions = {},
): string | null {
  let path: string | null;
  if (typeof input === 'string') {
    path = options.fileUrlStrings && input.startsWith('file:') ? fileUrlToPath(input) : input;
  } else if (input instanceof Uint8Array) {
    utf8Decoder ??= new TextDecoder();
    // Invalid UTF-8 becomes U+FFFD; '/' and '.' are ASCII and never part of a replaced sequence, so
    // the directory structure (all that governance looks at) survives intact.
    path = utf8Decoder.decode(input);
  } else if (isUrlLike(input)) {
    path = fileUrlToPath(input.href);
  } else {
    return null;
  }
  if (path === null || path.length === 0 || stringIncludes(path, '\0')) return null;
  if (stringCharCodeAt(path, 0) !== 0x2f /* / */) {
    if (typeof cwd !== 'string' || stringCharCodeAt(cwd, 0) !== 0x2f || stringIncludes(cwd, '\0'))
      return null;
    path = `${cwd}/${path}`;
  }
  return normalizeAbsolutePath(path);
}

/** Collapses '//', '.', '..' and a trailing '/' of an absolute POSIX path ('..' above the root stays at the root). */
export function normalizeAbsolutePath(path: string): string {
  // Fast path: already normal (no '//', no '/.' segment, no trailing slash). Captured methods and
  // index loops only (primordials.ts): this decides what directory a path is under.
  if (
    !stringIncludes(path, '//') &&
    !stringIncludes(path, '/.') &&
    (path.length === 1 || !stringEndsWith(path, '/'))
  )
    return path;
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  while (start <= path.length) {
    let end = stringIndexOf(path, '/', start);
    if (end === -1) end = path.length;
    const segment = stringSlice(path, start, end);
    start = end + 1;
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (depth > 0) depth--;
    } else {
      out[depth++] = segment;
    }
  }
  let normalized = '';
  for (let index = 0; index < depth; index++) normalized = `${normalized}/${out[index]}`;
  return normalized === '' ? '/' : normalized;
}

/** Is `path` the directory `dir` itself or inside it? Path-segment aware: `/tmp/cache` does not contain `/tmp/cachex`. */
export function isUnderDirectory(path: string, dir: string): boolean {
  if (dir === '/') return true;
  const base = stringEndsWith(dir, '/') ? stringSlice(dir, 0, -1) : dir;
  return (
    stringStartsWith(path, base) &&
    (path.length === base.length || stringCharCodeAt(path, base.length) === 0x2f)
  );
}

/**
 * Does the filesystem policy govern this absolute, normalised path? True under /tmp and under each
 * application directory (LAMBDA_TASK_ROOT, else the working directory at start).
 * @example isGovernedPath('/tmp/x', ['/var/task']) // true
 * @example isGovernedPath('/etc/passwd', ['/var/task']) // false
 */
export function isGovernedPath(absPath: string, appDirs: readonly string[]): boolean {
  if (isUnderDirectory(absPath, TMP_DIR)) return true;
  for (let index = 0; index < appDirs.length; index++) {
    if (isUnderDirectory(absPath, appDirs[index] as string)) return true;
  }
  return false;
}

function isUrlLike(value: unknown): value is { href: string } {
  return (
    value instanceof URL ||
    (typeof value === 'object' &&
      value !== null &&
      typeof (value as { href?: unknown }).href === 'string' &&
      typeof (value as { protocol?: unknown }).protocol === 'string')
  );
}

/** Node's fileURLToPath rules for POSIX, without importing node:url. */
function fileUrlToPath(href: string): string | null {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return null;
  }
  if (url.protocol !== 'file:' || url.hostname !== '') return null;
  if (/%2f/i.test(url.pathname)) return null;
  try {
    return decodeURIComponent(url.pathname);
  } catch {
    return null;
  }
}
