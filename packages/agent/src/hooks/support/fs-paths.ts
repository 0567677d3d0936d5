/**
 * Turning what an fs call received (string, Buffer, file: URL, relative path, file descriptor) into
 * the absolute path the filesystem policy judges, as cheaply as possible.
 *
 * Fast path first: a path that is lexically outside /tmp and the application directories (and not
 * under /proc or /dev/fd, whose magic links can point anywhere) is ungoverned and costs two string
 * checks. Only governed paths are resolved through symbolic links, with the ORIGINAL realpath and
 * readlink bindings captured before we patch them (no recursion, no events for our own work), so a
 * link cannot smuggle an access from an allowed place into a denied one. For a file that does not
 * exist yet, its nearest existing ancestor is resolved and the rest appended; a dangling link as the
 * last component is followed, because `open(O_CREAT)` would create its target.
 *
 * File descriptors are judged by the path they were opened with: `rememberFd` on every open we see,
 * `forgetFd` on close. An fd we never saw opened (stdio, sockets, pipes) is not a governed file.
 */
import { isUnderDirectory, normalizeAbsolutePath, toAbsolutePath } from '@appdefender/policy';
import { cString, stringLastIndexOf, stringSlice } from '../../intrinsics.js';

type Realpath = (path: string, encoding: string) => string;
type Readlink = (path: string, encoding: string) => string;

const ReflectApply = Reflect.apply;
// String methods captured at load, and index loops below: the app may later replace
// `String.prototype.startsWith`/`includes` (or the array iterator) so that a governed path looks
// certainly ungoverned and skips judgement (test/redteam-intrinsics.test.ts).
const uncurry = Function.prototype.call.bind(Function.prototype.bind, Function.prototype.call) as <
  A extends unknown[],
  R,
>(
  method: (this: string, ...args: A) => R,
) => (text: string, ...args: A) => R;
const startsWith = uncurry(String.prototype.startsWith);
const includes = uncurry(String.prototype.includes);
const endsWith = uncurry(String.prototype.endsWith);
const charCodeAt = uncurry(String.prototype.charCodeAt);
const originalCwd = process.cwd;
// brand checks, not `instanceof`: an app can give Uint8Array an own Symbol.hasInstance that answers
// false, and any ArrayBufferView (Uint16Array, DataView...) is a path to the fs binding
const isView = ArrayBuffer.isView;
// the bundle's TextDecoder is the private copy of trusted-globals.ts
const pathDecoder = new TextDecoder();

/** Directories whose entries are links to arbitrary files (`/proc/self/fd/3`, `/proc/self/root/tmp/x`). */
const MAGIC_LINK_DIRS = ['/proc', '/dev/fd'];
const MAX_LINK_HOPS = 40;

export interface FdEntry {
  /** The resolved absolute path the descriptor was opened with. */
  path: string;
  /** Opened for writing (the open was judged as a write). */
  write: boolean;
}

let governedDirs: readonly string[] = ['/tmp'];
/** The application directories (code lives there: see loaderMayRead). */
let applicationDirs: readonly string[] = [];
/** Governed and magic-link directories, without trailing slashes, for `isCertainlyUngoverned`. */
let watchedPrefixes: string[] = ['/tmp', ...MAGIC_LINK_DIRS];
let fsBinding: Record<string, unknown> | undefined;
let realpathNative: Realpath | undefined;
let readlinkNative: Readlink | undefined;
const fds = new Map<number, FdEntry>();
/** Resolutions of governed candidates (key: path, plus NUL when the final link is not followed). */
const resolutions = new Map<string, string | null>();
const MAX_RESOLUTIONS = 4096;
/** governedRealPath's answers per literal absolute path string. */
const literalFollowing = new Map<string, string | null>();
const literalNotFollowing = new Map<string, string | null>();
let cachingResolutions = true;
const ungovernedVerdicts = new Map<string, boolean>();
const MAX_VERDICTS = 4096;

/**
 * Captures the original realpath/readlink binding methods; must run before the binding is patched.
 * @param appDirs LAMBDA_TASK_ROOT, else the working directory at start
 */
export function initFsPaths(options: {
  appDirs: readonly string[];
  binding: Record<string, unknown> | undefined;
}): void {
  governedDirs = ['/tmp', ...options.appDirs.filter((dir) => dir && dir !== '/tmp')];
  applicationDirs = options.appDirs.filter((dir) => dir);
  // '/' as an application directory governs everything: no prefix can then be certainly ungoverned
  ungovernedVerdicts.clear();
  invalidateResolutions();
  watchedPrefixes = [...governedDirs, ...MAGIC_LINK_DIRS].map((dir) =>
    dir.length > 1 && dir.endsWith('/') ? dir.slice(0, -1) : dir === '/' ? '' : dir,
  );
  fsBinding = options.binding;
  realpathNative =
    typeof options.binding?.realpath === 'function' ? (options.binding.realpath as Realpath) : undefined;
  readlinkNative =
    typeof options.binding?.readlink === 'function' ? (options.binding.readlink as Readlink) : undefined;
}

/**
 * The fast path: true when `path` is an absolute string that is certainly ungoverned (already
 * normal, and under none of the governed or magic directories). A handful of string compares.
 */
export function isCertainlyUngoverned(path: unknown): boolean {
  if (typeof path !== 'string') return false;
  // The answer is lexical (it never depends on the filesystem), so it can be remembered per string.
  const known = ungovernedVerdicts.get(path);
  if (known !== undefined) return known;
  const verdict = computeCertainlyUngoverned(path);
  if (ungovernedVerdicts.size >= MAX_VERDICTS) ungovernedVerdicts.clear();
  ungovernedVerdicts.set(path, verdict);
  return verdict;
}

function computeCertainlyUngoverned(path: string): boolean {
  if (charCodeAt(path, 0) !== 0x2f) return false;
  for (let i = 0; i < watchedPrefixes.length; i++) {
    const dir = watchedPrefixes[i] as string;
    if (startsWith(path, dir) && (path.length === dir.length || charCodeAt(path, dir.length) === 0x2f))
      return false;
  }
  // a NUL ends the path the system call sees ('/tmp\0' is /tmp): never certain
  return !includes(path, '/.') && !includes(path, '//') && !includes(path, '\0');
}

/**
 * May Node's module loader read the content of `real` (a resolved path) without judgement? Code lives
 * in the application directories and in ungoverned places (layers, the runtime), and a JavaScript
 * file is code wherever it is; but JSON or any other file under /tmp outside the application
 * directories is data the policy governs, so `require('/tmp/x/secret.json')`, `import(...,
 * { with: { type: 'json' } })`, `require.extensions['.txt'] = ...` or a hand-made Module fed to
 * `Module._extensions` must not read around a deny (test/redteam-fs.test.ts). Only reads are ever
 * exempt: writes made while the loader is active (an app's own `module._compile`) are judged.
 */
export function loaderMayRead(real: string): boolean {
  if (endsWith(real, '.js') || endsWith(real, '.cjs') || endsWith(real, '.mjs')) return true;
  // an application directory may itself lie under /tmp
  for (let i = 0; i < applicationDirs.length; i++)
    if (isUnderDirectory(real, applicationDirs[i] as string)) return true;
  return !isGovernedOrMagic(real);
}

function isGovernedOrMagic(abs: string): boolean {
  for (let i = 0; i < governedDirs.length; i++)
    if (isUnderDirectory(abs, governedDirs[i] as string)) return true;
  for (let i = 0; i < MAGIC_LINK_DIRS.length; i++)
    if (isUnderDirectory(abs, MAGIC_LINK_DIRS[i] as string)) return true;
  return false;
}

/**
 * The absolute, lexically normalised path of `input` when it may be governed, else null (the caller
 * then goes straight to the original). Unknown input types are null: Node's own validation rejects them.
 */
export function governedCandidate(input: unknown): string | null {
  const abs = absolutePathOf(input);
  if (abs === null || !isGovernedOrMagic(abs)) return null;
  return abs;
}

/**
 * The absolute, lexically normalised path of a string, byte or URL path (relative ones against the
 * real working directory), governed or not; null when the input is no path.
 */
export function absolutePathOf(input: unknown): string | null {
  let abs: string | null;
  if (typeof input === 'string' || isView(input)) {
    const text = pathText(input);
    if (text === null) return null;
    if (charCodeAt(text, 0) === 0x2f /* / */) {
      abs =
        includes(text, '/.') || includes(text, '//') || endsWith(text, '/')
          ? normalizeAbsolutePath(text)
          : text;
    } else {
      abs = toAbsolutePath(text, currentCwd());
    }
  } else if (typeof input === 'object' && input !== null && 'href' in input) {
    abs = toAbsolutePath(input as URL, currentCwd());
  } else {
    return null;
  }
  return abs;
}

/**
 * The path the system call will use for a string or byte path (any ArrayBufferView: the binding
 * reads the raw bytes of a Uint16Array or DataView too), cut at the first NUL as libc reads it: the
 * fs binding does not refuse a NUL the way the public API does. Null for anything else.
 */
export function pathText(input: unknown): string | null {
  if (typeof input === 'string') return cString(input);
  if (!isView(input)) return null;
  try {
    return cString(pathDecoder.decode(input as Uint8Array));
  } catch {
    return null;
  }
}

function currentCwd(): string {
  return workingDirectory() ?? '/';
}

/** The working directory as Node knows it (the original process.cwd), or null when it cannot be read. */
export function workingDirectory(): string | null {
  try {
    const cwd = ReflectApply(originalCwd, process, []) as unknown;
    return typeof cwd === 'string' && charCodeAt(cwd, 0) === 0x2f ? cwd : null;
  } catch {
    return null;
  }
}

/**
 * The path an access to `abs` really reaches, or null when that is not governed.
 * @param followFinal whether the call follows a link in the last component (stat, open) or acts on
 *   the link itself (lstat, unlink, rename, symlink's new path)
 */
export function resolveGoverned(abs: string, followFinal: boolean): string | null {
  if (!cachingResolutions) return governedIn(resolvePath(abs, followFinal));
  const key = followFinal ? abs : `${abs}\0`;
  const cached = resolutions.get(key);
  if (cached !== undefined) return cached;
  const governed = governedIn(resolvePath(abs, followFinal));
  if (resolutions.size >= MAX_RESOLUTIONS) resolutions.clear();
  resolutions.set(key, governed);
  return governed;
}

function governedIn(real: string): string | null {
  for (let i = 0; i < governedDirs.length; i++)
    if (isUnderDirectory(real, governedDirs[i] as string)) return real;
  return null;
}

/**
 * Ends resolution caching for the rest of the process. Called when a child process starts or a
 * native addon loads: code outside the agent may then create links at any time (a `git checkout`
 * allowed by allowedCommands can check out a link into an allowed directory), and only a fresh
 * resolution at each access sees them.
 */
export function stopCachingResolutions(): void {
  cachingResolutions = false;
  invalidateResolutions();
}

/**
 * `resolveGoverned(governedCandidate(input), followFinal)`, remembered per absolute path string
 * (the common case: the same literal path used again and again) until the next invalidation.
 */
export function governedRealPath(input: unknown, followFinal: boolean): string | null {
  if (typeof input !== 'string' || charCodeAt(input, 0) !== 0x2f || !cachingResolutions) {
    const candidate = governedCandidate(input);
    return candidate === null ? null : resolveGoverned(candidate, followFinal);
  }
  const cache = followFinal ? literalFollowing : literalNotFollowing;
  const known = cache.get(input);
  if (known !== undefined) return known;
  const candidate = governedCandidate(input);
  const real = candidate === null ? null : resolveGoverned(candidate, followFinal);
  if (cache.size >= MAX_RESOLUTIONS) cache.clear();
  cache.set(input, real);
  return real;
}

/**
 * Forgets every cached resolution. Called before any governed write: a path's resolution changes
 * only when a link or directory along it is created, removed or renamed, and while only agent-
 * governed code runs, the agent sees (and judges) every such change. Links a worker creates are
 * judged there (a link to a denied place is refused), so the main thread's cache cannot be turned
 * against it; children and native addons end caching (`stopCachingResolutions`).
 */
export function invalidateResolutions(): void {
  if (resolutions.size > 0) resolutions.clear();
  if (literalFollowing.size > 0) literalFollowing.clear();
  if (literalNotFollowing.size > 0) literalNotFollowing.clear();
}

/**
 * Physical path of `abs` (see the module comment); lexical when the bindings are unavailable. Captured
 * string methods only: a `String.prototype.slice` answering another parent directory made a new file
 * under /tmp resolve to one outside it (test/redteam-round2.test.ts).
 */
export function resolvePath(abs: string, followFinal: boolean): string {
  if (!realpathNative) return abs;
  let path = abs;
  for (let hop = 0; hop < MAX_LINK_HOPS; hop++) {
    if (followFinal) {
      const real = tryRealpath(path);
      if (real !== null) return real;
    }
    if (path === '/') return path;
    const slash = stringLastIndexOf(path, '/');
    const parent = slash <= 0 ? '/' : stringSlice(path, 0, slash);
    const name = stringSlice(path, slash + 1);
    const realParent = resolveExistingAncestor(parent);
    const joined = realParent === '/' ? `/${name}` : `${realParent}/${name}`;
    if (!followFinal) return joined;
    // The final component is missing or a dangling link: follow the link, as open(O_CREAT) would.
    const target = tryReadlink(joined);
    if (target === null) return joined;
    path = normalizeAbsolutePath(charCodeAt(target, 0) === 0x2f ? target : `${realParent}/${target}`);
  }
  return path;
}

/** Realpath of the nearest existing ancestor of `dir`, with the missing tail appended. */
function resolveExistingAncestor(dir: string): string {
  let head = dir;
  let tail = '';
  for (let depth = 0; depth < 256; depth++) {
    const real = tryRealpath(head);
    if (real !== null) return tail ? normalizeAbsolutePath(`${real}/${tail}`) : real;
    if (head === '/') break;
    const slash = stringLastIndexOf(head, '/');
    tail = tail ? `${stringSlice(head, slash + 1)}/${tail}` : stringSlice(head, slash + 1);
    head = slash <= 0 ? '/' : stringSlice(head, 0, slash);
  }
  return dir;
}

function tryRealpath(path: string): string | null {
  try {
    return ReflectApply(realpathNative as Realpath, fsBinding, [path, 'utf8']) as string;
  } catch {
    return null;
  }
}

function tryReadlink(path: string): string | null {
  if (!readlinkNative) return null;
  try {
    return ReflectApply(readlinkNative, fsBinding, [path, 'utf8']) as string;
  } catch {
    return null;
  }
}

/** Is an `open` with these flags a write (anything but O_RDONLY without O_CREAT/O_TRUNC/O_APPEND)? */
export function isWriteFlags(flags: unknown): boolean {
  if (typeof flags !== 'number') return false;
  // O_WRONLY | O_RDWR = 3; O_CREAT 0o100, O_TRUNC 0o1000, O_APPEND 0o2000 on Linux
  return (flags & 3) !== 0 || (flags & 0o3100) !== 0;
}

export function rememberFd(fd: unknown, entry: FdEntry | null): void {
  if (typeof fd !== 'number') return;
  if (entry) fds.set(fd, entry);
  else fds.delete(fd);
}

export function forgetFd(fd: unknown): void {
  if (typeof fd === 'number') fds.delete(fd);
}

export function fdEntry(fd: unknown): FdEntry | undefined {
  return typeof fd === 'number' ? fds.get(fd) : undefined;
}
