/**
 * OpenSSL engines are shared libraries: naming one makes OpenSSL `dlopen` it, and its constructors run
 * machine code the agent cannot see into, outside `process.dlopen` (native-addons.ts). So an engine is
 * a native library load: process operation `load`, target = the engine string as given. Not only a
 * path loads code: an id OpenSSL does not know (`'evil'`) makes its dynamic engine look for
 * `evil.so` in OPENSSL_ENGINES (which the app can set at run time) or its engines directory, so every
 * engine string is judged, and under deny every one is refused.
 *
 * Three binding functions load engines (Node 20 and 22, src/crypto): the crypto binding's
 * `setEngine(id, flags)` (behind `crypto.setEngine`), and `SecureContext.prototype.setEngineKey(key,
 * engine)` / `setClientCertEngine(engine)` (behind the tls options `privateKeyEngine` and
 * `clientCertEngine`, which `tls.createSecureContext`, `tls.connect`, `tls.createServer`, https and
 * http2 all end in). They are patched on the binding object the app also gets from
 * `process.binding('crypto')`, so public API and raw binding take the same road. A denied call throws
 * ERR_ACCESS_DENIED, as a failed engine load throws there.
 *
 * Why the binding is loaded at start (~1.5 M instructions, about 0.3% of a cold start; it is not
 * loaded otherwise until the app uses crypto): Node's lib/internal/crypto/util.js takes `setEngine`
 * out of the binding when it first loads (`const { setEngine: _setEngine } = internalBinding(...)`),
 * so the binding must be patched before any module does, and a watch on the module load list
 * (builtin-loads.ts) can be undone by the app, which would leave this road with no safety net.
 */
import type { Operation } from '@appdefender/policy';
import { getBinding, patchMethod } from '../bindings.js';
import { enforce } from '../enforce.js';
import { cString } from '../intrinsics.js';
import type { HookDescriptor } from './registry.js';
import { stopCachingResolutions } from './support/fs-paths.js';

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

const ReflectApply = Reflect.apply;
const toText = String;

export const hook: HookDescriptor = {
  name: 'openssl-engines',
  category: 'process',
  install() {
    const crypto = getBinding('crypto');
    if (!crypto) return;
    patchMethod<AnyFunction>(crypto, 'setEngine', (original) =>
      engineLoader(original, 0, 'crypto.setEngine', true),
    );
    const prototype = (crypto.SecureContext as { prototype?: object } | undefined)?.prototype;
    patchMethod<AnyFunction>(prototype, 'setEngineKey', (original) =>
      engineLoader(original, 1, 'SecureContext.setEngineKey (privateKeyEngine)', false),
    );
    patchMethod<AnyFunction>(prototype, 'setClientCertEngine', (original) =>
      engineLoader(original, 0, 'SecureContext.setClientCertEngine (clientCertEngine)', false),
    );
  },
};

/**
 * A wrapper that judges the engine in argument `index` before `original` loads it.
 * @param stringsOnly the binding CHECKs that the engine is a string (`setEngine`): anything else
 *   aborts the process there and loads nothing, so it is passed on untouched. The SecureContext
 *   methods turn any value into a string themselves (`Utf8Value`, which calls `toString`).
 */
function engineLoader(original: AnyFunction, index: number, call: string, stringsOnly: boolean): AnyFunction {
  return function engine(this: unknown, ...args: unknown[]) {
    const value = args[index];
    if (args.length <= index || (stringsOnly && typeof value !== 'string'))
      return ReflectApply(original, this, args);
    // turned into a string once, and that string is what OpenSSL gets: an object whose toString
    // answers a harmless id to the judge and a library path next must not load the library; cut at a
    // NUL, as OpenSSL reads the C string ('/tmp/evil.so\0/rdrand' is /tmp/evil.so)
    const engineId = cString(typeof value === 'string' ? value : toText(value));
    const op: Operation = { category: 'process', operation: 'load', command: engineId };
    const denied = enforce(op, { call });
    if (denied) throw denied;
    // native code may create links behind the agent's back: resolve afresh from now on
    stopCachingResolutions();
    const copy: unknown[] = [];
    for (let i = 0; i < args.length; i++) copy[i] = i === index ? engineId : args[i];
    return ReflectApply(original, this, copy);
  };
}
