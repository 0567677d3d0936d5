/**
 * Native writers armed with a destination relative to the working directory: V8 flags that write
 * into the cwd (`--trace-turbo`, `--redirect-code-traces`...), Node's tracing agent
 * (node_trace.<n>.log), `setHeapSnapshotNearHeapLimit`. Their C++ code resolves the destination
 * when it writes, later, against the cwd of that moment; the agent judged the cwd of the call. Once
 * one was let through, every later `process.chdir` is judged as a write into the new directory
 * (native-writers.ts), so that an app cannot arm one in an ungoverned directory and then move it
 * into a governed one (test/redteam-round7-v8.test.ts).
 *
 * The working directory is the process's, and so is what a worker arms (V8 flags are process-wide;
 * a worker's heap snapshot lands in the process's cwd): the state lives in a SharedArrayBuffer that
 * the Worker hook hands each worker with its policy (worker-thread.ts), so a worker's arming reaches
 * the main thread, the only one that can chdir.
 */

/** What was armed, by kind (a bit each): decides the file name the chdir judgement names. */
export const ARMED_V8_FLAG = 1;
export const ARMED_TRACE = 2;
export const ARMED_HEAP_SNAPSHOT = 4;
/** a worker's profiles, snapshots or reports (`--cpu-prof`... without an absolute directory) */
export const ARMED_DIAGNOSTIC = 8;

// captured at load: an app that replaced Atomics.load could make an armed writer look unarmed
const SharedArrayBufferClass = typeof SharedArrayBuffer === 'function' ? SharedArrayBuffer : undefined;
const atomicsLoad = typeof Atomics === 'object' ? Atomics.load : undefined;
const atomicsOr = typeof Atomics === 'object' ? Atomics.or : undefined;
const Int32ArrayClass = Int32Array;

let armedHere = 0;
let shared: Int32Array | undefined;

/** Records that a writer of `kind` was let through with a cwd-relative destination. */
export function armCwdWriter(kind: number): void {
  armedHere |= kind;
  if (shared && atomicsOr) atomicsOr(shared, 0, kind);
}

/** The kinds armed so far, in this thread or any other of the process (0: none). */
export function armedKinds(): number {
  const elsewhere = shared && atomicsLoad ? atomicsLoad(shared, 0) : 0;
  return armedHere | elsewhere;
}

/** The buffer a new worker gets (created on first use), or undefined without SharedArrayBuffer. */
export function armedBuffer(): SharedArrayBuffer | undefined {
  if (!shared) {
    if (!SharedArrayBufferClass) return undefined;
    shared = new Int32ArrayClass(new SharedArrayBufferClass(4));
    shared[0] = armedHere;
  }
  return shared.buffer as SharedArrayBuffer;
}

/** In a worker: the starting thread's buffer, taken from the policy hand-off before any app code. */
export function adoptArmedBuffer(buffer: unknown): void {
  if (!SharedArrayBufferClass || !(buffer instanceof SharedArrayBufferClass) || buffer.byteLength < 4) return;
  shared = new Int32ArrayClass(buffer);
  if (armedHere !== 0 && atomicsOr) atomicsOr(shared, 0, armedHere);
}
