/**
 * Recognising Node's own module loader, whose reads are never judged (a policy that denies reads of
 * the application directory must not stop the application from loading its code).
 *
 * CommonJS, stack-free: `Module._findPath` (resolution: stat/realpath) and each
 * `Module._extensions[ext]` handler (reading the source) run under a depth counter; `_compile`
 * resets it, so a module's own top-level code is judged like any other. An extension handler only
 * counts as the loader for a genuine, not yet loaded `Module` that is in `Module._cache` under the
 * very file name it is asked to read (what `Module._load` does), so calling
 * `Module._extensions['.js'](fakeModule, '/tmp/secret')` is judged.
 *
 * ES modules: Node's ESM loader reads through `fs/promises.readFile(url)` and `fs.readFileSync(url)`
 * from inside `node:internal/modules/esm/*`, after awaits, where no counter can follow. Only when a
 * governed read would otherwise be observed or denied, we capture the stack (with the agent's own
 * formatter; the app's `Error.prepareStackTrace` is not consulted) and let the read through when the
 * nearest frame outside `node:fs` code is one of those loader files. That is a slow path taken only by
 * module loading on non-granted paths.
 */
import { callerFiles } from '../../attribution.js';
import { builtin } from '../../builtins.js';
import { stringStartsWith } from '../../intrinsics.js';

type AnyFunction = (...args: unknown[]) => unknown;
interface ModuleClass {
  new (...args: unknown[]): object;
  _extensions: Record<string, AnyFunction>;
  _findPath: AnyFunction;
  _cache: Record<string, unknown>;
  prototype: { _compile: AnyFunction };
}

const ReflectApply = Reflect.apply;
const LOADER_EXTENSIONS = ['.js', '.json', '.cjs', '.mjs'];
const ESM_LOADER_FILE = 'node:internal/modules/esm/';
const FS_FRAME_FILES = ['node:fs', 'node:internal/fs/'];
// the loader frame is at most the third below the hook (open <- readFile <- getSource); a short capture is cheap
const STACK_DEPTH = 6;

let depth = 0;
let installed = false;

/** True while Node's CommonJS loader resolves or reads a module. */
export function isLoaderActive(): boolean {
  return depth > 0;
}

/** Wraps the CommonJS loader entry points once per process. */
export function installLoaderExemption(): void {
  if (installed) return;
  installed = true;
  const Module = builtin<ModuleClass>('node:module');
  const extensions = Module._extensions;
  for (const ext of LOADER_EXTENSIONS) {
    const original = extensions[ext];
    if (typeof original !== 'function') continue;
    extensions[ext] = wrapExtension(Module, original);
  }
  const findPath = Module._findPath;
  if (typeof findPath === 'function') {
    Module._findPath = function _findPath(this: unknown, ...args: unknown[]) {
      depth++;
      try {
        return ReflectApply(findPath, this, args);
      } finally {
        depth--;
      }
    };
  }
  const compile = Module.prototype._compile;
  if (typeof compile === 'function') {
    Module.prototype._compile = function _compile(this: unknown, ...args: unknown[]) {
      const saved = depth;
      depth = 0;
      try {
        return ReflectApply(compile, this, args);
      } finally {
        depth = saved;
      }
    };
  }
}

function wrapExtension(Module: ModuleClass, original: AnyFunction): AnyFunction {
  const wrapped = function (this: unknown, module: unknown, filename: unknown, ...rest: unknown[]) {
    const genuine =
      module instanceof Module &&
      typeof filename === 'string' &&
      (module as { filename?: unknown }).filename === filename &&
      (module as { loaded?: unknown }).loaded === false &&
      Module._cache[filename] === module;
    if (!genuine) return ReflectApply(original, this, [module, filename, ...rest]);
    depth++;
    try {
      return ReflectApply(original, this, [module, filename, ...rest]);
    } finally {
      depth--;
    }
  };
  Object.defineProperty(wrapped, 'name', { value: original.name, configurable: true });
  return wrapped;
}

/**
 * Is the current call a read by Node's ES module loader? Call only on the slow path.
 * @param skip the hook function; frames above it (the agent) are not looked at
 *
 * The frames are read with the CallSite method captured at start (callerFiles: fails closed on a
 * tampered `Error.stackTraceLimit`) and compared with captured string methods in an index loop: an app
 * that made `String.prototype.startsWith` answer yes for the loader's prefix (or replaced
 * `Array.prototype.some` or the array iterator) had every stat, readdir and .js read of /tmp counted
 * as the loader's (test/redteam-round2.test.ts).
 */
export function isEsmLoaderCall(skip: AnyFunction): boolean {
  const files = callerFiles(skip, STACK_DEPTH);
  if (files === null) return false;
  for (let i = 0; i < files.length; i++) {
    const file = files[i] as string;
    if (isFsFrame(file)) continue;
    return stringStartsWith(file, ESM_LOADER_FILE);
  }
  return false;
}

function isFsFrame(file: string): boolean {
  for (let i = 0; i < FS_FRAME_FILES.length; i++) {
    const prefix = FS_FRAME_FILES[i] as string;
    if (file === prefix || stringStartsWith(file, prefix)) return true;
  }
  return false;
}
