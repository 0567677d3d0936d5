/**
 * The Lambda runtime's own work, which is never blocked and never reported (contract §1: "traffic
 * the function's runtime needs to live"). Two things the runtime does in the function's process:
 *
 * 1. It loads its native Runtime API client, `$LAMBDA_RUNTIME_DIR/rapid-client.node`, with
 *    `process.dlopen` (aws-lambda-ric `loadNativeClient`). Native addons whose path and real path
 *    both lie in the runtime directory are the runtime's own: loaded without judgement, whoever
 *    loads them (the app loading the runtime's own, read-only code gains nothing it lacks). The runtime
 *    directory is `LAMBDA_RUNTIME_DIR` (`/var/runtime` in Lambda, set by the platform), realpath'd
 *    when the hooks install, before any application code runs. Why the app cannot abuse this: in
 *    Lambda that directory is on a read-only file system (so is everything but /tmp), so no one can
 *    plant an addon there; a directory in or around /tmp or the application directory (writable, or
 *    the app's own) is refused; children and workers get this process's `LAMBDA_RUNTIME_DIR`
 *    (agent-propagation.ts), so a child cannot be pointed at a directory of the app's choosing.
 *    Outside Lambda (the local Lambda of our tests runs aws-lambda-ric from node_modules, which is
 *    writable) the exemption trusts that directory as much as the runtime itself.
 *
 * 2. It resolves the handler (`_HANDLER`, e.g. `index.handler`) before loading it: existence probes
 *    of `<LAMBDA_TASK_ROOT>/index`, `index.js`, `index.mjs`, `index.cjs` (aws-lambda-ric 4.x
 *    `tryAwaitImport`: `existsSync` then `import()`; the managed runtimes' older `UserFunction.js`
 *    also reads the `package.json` files up the tree for `"type"`). These exact accesses are let
 *    through unjudged while the runtime resolves the handler: from the agent's start in the
 *    runtime's process (main script in the runtime directory) until the first content read of a
 *    governed file other than those package.json files, i.e. until the runtime starts reading the
 *    handler's code (or anything else is read or written, whichever comes first), which is before
 *    the first line of application code. Nothing here looks at stack frames, so code compiled with
 *    a forged file name (`//# sourceURL`, `vm`) cannot pass for the runtime. And even an app that
 *    reached these accesses would gain nothing: the module loader already resolves (stats) any
 *    path unjudged (`require.resolve`), and reads package.json files in the application directory
 *    (`require`); the package.json content reads exempted here are only those in the application
 *    directories.
 */
import { isUnderDirectory, normalizeAbsolutePath } from '@appdefender/policy';
import { asAgentWork } from '../../agent-work.js';
import { builtin } from '../../builtins.js';
import { logLine } from '../../log.js';

/** Accesses the runtime makes while resolving the handler, keyed by the real path they reach. */
interface HandlerProbes {
  /** Existence probes (stat, access, existsSync, realpath): handler candidates and package.json files. */
  probes: Set<string>;
  /** Content reads: package.json files in the application directories. */
  reads: Set<string>;
}

/** What aws-lambda-ric tries, in order (`dist/function/module-loader.js` `extensionLookupOrder`). */
const HANDLER_EXTENSIONS = ['', '.js', '.mjs', '.cjs'];
/** `dist/utils/handler-path.js` FUNCTION_EXPR: module name, then the export path. */
const FUNCTION_EXPR = /^([^.]*)\.(.*)$/;

let initialized = false;
/** The runtime directory as configured (normalised) and its real path; empty when there is none. */
let lexicalRuntimeDir = '';
let realRuntimeDir = '';
let applicationDirs: readonly string[] = [];
/** The handler module's path without extension (`/var/task/index`), while its resolution is exempt. */
let handlerBase: string | null = null;
/** The accesses to let through, computed at the first governed access while resolving (lazily). */
let handlerProbes: HandlerProbes | undefined;
/** `process.argv[1]` at start: the runtime's entry point (`/var/runtime/index.mjs`) in its process. */
let mainScript: string | undefined;

/**
 * Reads LAMBDA_RUNTIME_DIR, _HANDLER and LAMBDA_TASK_ROOT once per process; call at hook install,
 * before the application runs. A few string operations and one realpath call, only in Lambda.
 */
export function initRuntimeOwnWork(options: { env: NodeJS.ProcessEnv; appDirs: readonly string[] }): void {
  if (initialized) return;
  initialized = true;
  applicationDirs = options.appDirs.filter((dir) => dir);
  const configured = options.env.LAMBDA_RUNTIME_DIR;
  if (typeof configured !== 'string' || configured.charCodeAt(0) !== 0x2f) return;
  const real = realPathOf(configured);
  if (real === null) return;
  const governed = ['/tmp', ...applicationDirs];
  if (governed.some((dir) => isUnderDirectory(real, dir) || isUnderDirectory(dir, real))) {
    logLine(
      `LAMBDA_RUNTIME_DIR=${configured} lies in or around /tmp or the application directory: ` +
        "the runtime's work there is judged like the application's",
    );
    return;
  }
  lexicalRuntimeDir = normalizeAbsolutePath(configured);
  realRuntimeDir = real;
  mainScript = process.argv[1];
  handlerBase = handlerModuleBase(options.env);
}

/**
 * Is `filename` (what `process.dlopen` was given) an addon of the runtime? Both the path as given and
 * the file it reaches must lie in the runtime directory: a link elsewhere that points into it could
 * be swapped between our check and the dlopen; the runtime directory itself is read-only in Lambda.
 */
export function isRuntimeAddon(filename: unknown): boolean {
  if (!realRuntimeDir || typeof filename !== 'string' || filename.charCodeAt(0) !== 0x2f) return false;
  const given = normalizeAbsolutePath(filename);
  if (!isUnderDirectory(given, lexicalRuntimeDir) && !isUnderDirectory(given, realRuntimeDir)) return false;
  const real = realPathOf(given);
  return real !== null && isUnderDirectory(real, realRuntimeDir);
}

/** True while the runtime may still be resolving the handler (the cheap check hooks make first). */
export function isResolvingHandler(): boolean {
  return handlerBase !== null;
}

/**
 * Is this governed read one the runtime makes while resolving the handler? A content read that is
 * not one ends the resolution: the runtime is reading the handler's code, or something else runs.
 * @param real the resolved path the access reaches
 * @param contentRead whether the call reads the file's content (open for reading, readFile)
 */
export function isHandlerResolutionRead(real: string, contentRead: boolean): boolean {
  if (handlerBase === null) return false;
  if (handlerProbes === undefined) {
    if (!isRuntimeProcess()) {
      endHandlerResolution();
      return false;
    }
    handlerProbes = computeHandlerProbes(handlerBase);
  }
  if (contentRead ? handlerProbes.reads.has(real) : handlerProbes.probes.has(real)) return true;
  if (contentRead) endHandlerResolution();
  return false;
}

/** Ends the exemption of the handler's resolution for good (any write, any other content read). */
export function endHandlerResolution(): void {
  handlerBase = null;
  handlerProbes = undefined;
}

/**
 * Is this the runtime's process: its main script lies in the runtime directory? A worker thread's
 * main script is not known while preloads run, so the runtime's worker threads (multi-concurrency
 * mode) qualify too (see the module comment for why that opens nothing). Asked at the first governed
 * access while resolving, when the runtime has loaded worker_threads itself (loading it costs ms).
 */
function isRuntimeProcess(): boolean {
  const { isMainThread } = builtin<typeof import('node:worker_threads')>('node:worker_threads');
  if (!isMainThread) return true;
  const main = mainScript;
  const realMain = typeof main === 'string' && main.charCodeAt(0) === 0x2f ? realPathOf(main) : null;
  return realMain !== null && isUnderDirectory(realMain, realRuntimeDir);
}

/** `path.resolve(LAMBDA_TASK_ROOT, moduleRoot, moduleName)` as aws-lambda-ric computes it. */
function handlerModuleBase(env: NodeJS.ProcessEnv): string | null {
  const handler = env._HANDLER;
  const taskRoot = env.LAMBDA_TASK_ROOT;
  if (!handler || !taskRoot || handler.includes('..')) return null;
  const path = builtin<typeof import('node:path')>('node:path');
  const handlerString = path.basename(handler);
  const moduleRoot = handler.slice(0, handler.indexOf(handlerString)).replace(/\/$/, '');
  const match = FUNCTION_EXPR.exec(handlerString);
  if (!match?.[1]) return null;
  return path.resolve(taskRoot, moduleRoot, match[1]);
}

function computeHandlerProbes(base: string): HandlerProbes {
  const path = builtin<typeof import('node:path')>('node:path');
  const probes = new Set<string>();
  const reads = new Set<string>();
  const dir = path.dirname(base);
  const realDir = realPathOf(dir) ?? dir;
  const name = path.basename(base);
  for (const extension of HANDLER_EXTENSIONS) {
    probes.add(realPathOf(`${base}${extension}`) ?? path.join(realDir, `${name}${extension}`));
  }
  // UserFunction.js `_hasFolderPackageJsonTypeModule`: package.json up the tree until node_modules or /
  for (let folder = dir; ; folder = path.dirname(folder)) {
    if (folder.endsWith('/node_modules')) break;
    const packageJson = path.join(realPathOf(folder) ?? folder, 'package.json');
    probes.add(packageJson);
    if (applicationDirs.some((appDir) => isUnderDirectory(packageJson, appDir))) reads.add(packageJson);
    if (folder === '/') break;
  }
  return { probes, reads };
}

function realPathOf(path: string): string | null {
  try {
    const fs = builtin<typeof import('node:fs')>('node:fs');
    return asAgentWork(() => fs.realpathSync.native(path));
  } catch {
    return null;
  }
}
