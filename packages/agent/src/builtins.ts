/**
 * Node's builtin modules, loaded when a hook is installed rather than when the agent loads: an
 * `import http from 'node:http'` at the top of a hook file would be hoisted into the bundle's
 * start-up and cost milliseconds of cold start for modules the policy may never need (http, http2,
 * child_process and worker_threads each take 2-10 ms to load).
 *
 * `process.getBuiltinModule` (Node >= 20.16) gives the real module objects without touching the
 * module loader; it is captured here, at agent load, before the loader-escape hook wraps it.
 */
type LoadBuiltin = (id: string) => unknown;

const getBuiltinModule = (process as unknown as { getBuiltinModule?: LoadBuiltin }).getBuiltinModule;
let load: LoadBuiltin | undefined =
  typeof getBuiltinModule === 'function' ? (id) => Reflect.apply(getBuiltinModule, process, [id]) : undefined;

/**
 * The builtin module `id`, e.g. `builtin<typeof import('node:net')>('node:net')`.
 * @throws when Node has no such builtin
 */
export function builtin<T>(id: `node:${string}`): T {
  // Node < 20.16 has no getBuiltinModule; the bundle is CommonJS, so `require` is there
  load ??= require;
  const module = load(id);
  if (!module) throw new Error(`Node ${process.version} has no builtin module ${id}`);
  return module as T;
}
