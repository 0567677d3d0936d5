// The Lambda layer's cost, measured in the local Lambda (testing/lambda-sim, real aws-lambda-ric):
//   - cold start: Init duration with the layer (wrapper + agent + extension) vs. the bare function,
//     the policy served by a loopback stand-in control plane (its round trip is ~1 ms and is included,
//     so the figure is an upper bound of what the layer adds beyond the fetch);
//   - warm invocation: response time (what the caller waits for) with vs. without the layer, and the
//     time until the environment freezes (the extension flushes after platform.runtimeDone);
//   - the extension's memory, after Init (and one invocation) and after the warm invocations: RSS
//     (counts the node binary's code pages, which every Node process maps and the runtime's node
//     shares), PSS (shared pages divided among the processes using them), private (pages only this
//     process uses) and anonymous (heap, stacks: what the extension itself allocates);
//   - the extension's CPU time until Init ends (all its threads), a figure the machine's load
//     disturbs less than wall-clock time.
// More configurations attribute the cost: "agent only" (the wrapper with a local policy file,
// no extension) and "null extension" (a do-nothing Node extension registered from bash, i.e. what
// any Node extension costs in this sim, e.g. the sim's own event handling and Node's memory),
// "layerPolicyInPlace" (the whole layer with the policy already in a file, ES_POLICY_FILE: no fetch
// and no hand-off wait, i.e. the layer's cost excluding the policy round trip and the wait for the
// extension's Node to boot and fetch), and "layerLateRegistration" (ES_EARLY_REGISTRATION=0: what
// registering from bash saves).
// Configurations are interleaved (cold starts and warm invocations alike) because the machine is
// shared; the fastest cold starts are printed beside the medians.
// Targets: < 30 ms added to Init, warm response <= 1.05x, extension RSS < 40 MB.
// Run: npx tsc -b testing/lambda-sim && node bench/layer-cold-start.mjs [--cold N] [--warm N]
//   [--agent-bundle FILE]   a prebuilt agent.cjs instead of building packages/agent from its sources
//   [--policy-delay-ms N]   the stand-in answers the policy after N ms, as a control plane further
//                           away would (the figures then include that wait)
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import * as http from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const simDist = new URL('../testing/lambda-sim/dist/index.js', import.meta.url);
if (!existsSync(simDist)) {
  console.error('testing/lambda-sim is not built: run `npx tsc -b testing/lambda-sim` first');
  process.exit(1);
}
const { startLambda } = await import(simDist.href);
const { buildLayer } = await import('../packages/layer/build.mjs');

const { values } = parseArgs({
  options: {
    cold: { type: 'string', default: '8' },
    warm: { type: 'string', default: '200' },
    'agent-bundle': { type: 'string' },
    'policy-delay-ms': { type: 'string', default: '0' },
  },
});
const policyDelayMs = Number(values['policy-delay-ms']);
const coldRuns = Number(values.cold);
const warmRuns = Number(values.warm);

const root = mkdtempSync(join(tmpdir(), 'layer-bench-'));
const agentBundle =
  values['agent-bundle'] ??
  (await (await import('../packages/agent/build.mjs')).buildAgent({ outfile: join(root, 'agent.cjs') }));
const { layerDir } = await buildLayer({ outDir: root, agentBundle, zips: false });

const taskRoot = join(root, 'task');
mkdirSync(taskRoot);
// A small handler (a few ms of JSON work); with event.governed it also stats a file of its own code
// directory, an operation the agent governs (observed: one event, aggregated on repeats).
writeFileSync(
  join(taskRoot, 'index.js'),
  [
    "const fs = require('node:fs');",
    'const rows = Array.from({ length: 5000 }, (_, i) => ({ id: i, name: "row-" + i, tags: ["a", "b"] }));',
    'exports.handler = async (event) => {',
    '  const copy = JSON.parse(JSON.stringify(rows));',
    '  const size = event.governed ? fs.statSync(__filename).size : 0;',
    '  return { n: event.n, count: copy.length, size };',
    '};',
    '',
  ].join('\n'),
);

// The null extension: registers from bash (as ours does), then a Node loop answering events.
const nullLayerDir = join(root, 'null-layer');
mkdirSync(join(nullLayerDir, 'extensions'), { recursive: true });
writeFileSync(
  join(nullLayerDir, 'loop.cjs'),
  `const http = require('node:http');
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const agent = new http.Agent({ keepAlive: true });
const next = () => new Promise((resolve, reject) => {
  http.get({ host, port, path: '/2020-01-01/extension/event/next', agent,
    headers: { 'Lambda-Extension-Identifier': process.env.EXT_ID } }, (res) => {
    let body = ''; res.setEncoding('utf8').on('data', (c) => (body += c)).on('end', () => resolve(JSON.parse(body)));
  }).on('error', reject);
});
(async () => { for (;;) if ((await next()).eventType === 'SHUTDOWN') process.exit(0); })();
`,
);
writeFileSync(
  join(nullLayerDir, 'extensions', 'null-extension'),
  `#!/bin/bash
api="$AWS_LAMBDA_RUNTIME_API"; body='{"events":["INVOKE","SHUTDOWN"]}'
exec 3<>"/dev/tcp/\${api%:*}/\${api##*:}"
printf 'POST /2020-01-01/extension/register HTTP/1.1\\r\\nHost: %s\\r\\nLambda-Extension-Name: null-extension\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\nConnection: close\\r\\n\\r\\n%s' "$api" "\${#body}" "$body" >&3
while IFS= read -r line <&3; do
  line="\${line%$'\\r'}"; [ -z "$line" ] && break
  case "\${line,,}" in lambda-extension-identifier:*) id="\${line#*: }" ;; esac
done
exec 3<&-
EXT_ID="$id" exec node "${nullLayerDir}/loop.cjs"
`,
);
chmodSync(join(nullLayerDir, 'extensions', 'null-extension'), 0o755);

// A stand-in control plane: it serves the policy and answers function reports and event batches at once.
const policy = JSON.stringify({
  name: 'bench',
  network: 'observe',
  filesystem: 'observe',
  process: 'observe',
});
const fakeControlPlane = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.url?.startsWith('/api/v1/agent/policy')) {
      const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end(policy);
      if (policyDelayMs > 0) setTimeout(answer, policyDelayMs);
      else answer();
    } else
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end('{"accepted":0,"duplicates":0,"rejected":0,"results":[]}');
  });
});
await new Promise((resolve) => fakeControlPlane.listen(0, '127.0.0.1', resolve));
const apiUrl = `http://127.0.0.1:${fakeControlPlane.address().port}`;
const policyFile = join(root, 'policy.json');
writeFileSync(policyFile, policy);

let environments = 0;
function options(kind) {
  environments++;
  const base = { handler: 'index.handler', taskRoot, timeoutMs: 10_000 };
  const runtimeDir = join(root, `runtime-${environments}`);
  const wrapper = join(layerDir, 'appdefender_wrapper');
  switch (kind) {
    case 'bare':
      return base;
    case 'agentOnly':
      return {
        ...base,
        env: { AWS_LAMBDA_EXEC_WRAPPER: wrapper, ES_POLICY_FILE: policyFile, ES_RUNTIME_DIR: runtimeDir },
      };
    case 'nullExtension':
      return { ...base, layerDir: nullLayerDir };
    case 'layer':
      return {
        ...base,
        layerDir,
        env: {
          AWS_LAMBDA_EXEC_WRAPPER: wrapper,
          ES_API_URL: apiUrl,
          ES_LICENSE_KEY: 'adk_live_bench',
          ES_POLICY_GROUP_NAME: 'bench',
          ES_RUNTIME_DIR: runtimeDir,
        },
      };
    case 'layerPolicyInPlace': {
      const layer = options('layer');
      return { ...layer, env: { ...layer.env, ES_POLICY_FILE: policyFile } };
    }
    case 'layerLateRegistration': {
      const layer = options('layer');
      return { ...layer, env: { ...layer.env, ES_EARLY_REGISTRATION: '0' } };
    }
    default:
      throw new Error(`unknown configuration ${kind}`);
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

const EXTENSION_SOURCES = { layer: 'extension:appdefender', nullExtension: 'extension:null-extension' };

/** The extension's memory in MB from /proc/<pid>/smaps_rollup (Linux), or undefined. */
function memoryOf(lambda, source) {
  const entry = lambda.memoryUsage().find((process) => process.source === source);
  if (!entry) return undefined;
  try {
    const rollup = readFileSync(`/proc/${entry.pid}/smaps_rollup`, 'utf8');
    const mb = (name) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? Number.NaN) / 1024;
    return {
      rss: mb('Rss'),
      pss: mb('Pss'),
      private: mb('Private_Clean') + mb('Private_Dirty'),
      anonymous: mb('Anonymous'),
    };
  } catch {
    return undefined;
  }
}

/** CPU time (ms) the extension's process has used so far, all threads (/proc/<pid>/task/<tid>/schedstat). */
function cpuMsOf(lambda, source) {
  const entry = lambda.memoryUsage().find((process) => process.source === source);
  if (!entry) return undefined;
  try {
    let ns = 0;
    for (const task of readdirSync(`/proc/${entry.pid}/task`))
      ns += Number(readFileSync(`/proc/${entry.pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    return ns / 1e6;
  } catch {
    return undefined;
  }
}

// Cold starts, interleaved.
const cold = {
  bare: [],
  agentOnly: [],
  nullExtension: [],
  layer: [],
  layerPolicyInPlace: [],
  layerLateRegistration: [],
};
const initCpu = { layer: [], nullExtension: [] };
const afterInit = { layer: [], nullExtension: [] };
for (let run = 0; run < coldRuns; run++) {
  for (const kind of Object.keys(cold)) {
    const lambda = await startLambda(options(kind));
    cold[kind].push(lambda.initDurationMs);
    const cpu = kind in initCpu ? cpuMsOf(lambda, EXTENSION_SOURCES[kind]) : undefined;
    if (cpu !== undefined) initCpu[kind].push(cpu);
    await lambda.invoke({ n: 0 });
    const memory = kind in afterInit ? memoryOf(lambda, EXTENSION_SOURCES[kind]) : undefined;
    if (memory) afterInit[kind].push(memory);
    await lambda.shutdown();
  }
}

// Warm invocations: one environment per configuration, invoked in turn.
const warmKinds = ['bare', 'agentOnly', 'nullExtension', 'layer'];
const lambdas = {};
for (const kind of warmKinds) lambdas[kind] = await startLambda(options(kind));
const samples = {};
for (let index = 0; index < warmRuns + 20; index++) {
  for (const governed of [false, true]) {
    for (const kind of warmKinds) {
      const result = await lambdas[kind].invoke({ n: index, governed });
      if (!result.ok) throw new Error(`${kind} invocation failed: ${JSON.stringify(result.error)}`);
      if (index < 20) continue; // warm-up
      const key = `${kind}${governed ? 'Governed' : ''}`;
      samples[key] ??= { response: [], untilFrozen: [] };
      samples[key].response.push(result.durationMs);
      samples[key].untilFrozen.push(result.durationMs + result.postRuntimeDurationMs);
    }
  }
}
const warm = Object.fromEntries(
  Object.entries(samples).map(([key, value]) => [
    key,
    { response: median(value.response), untilFrozen: median(value.untilFrozen) },
  ]),
);
const afterWarm = {
  layer: memoryOf(lambdas.layer, EXTENSION_SOURCES.layer),
  nullExtension: memoryOf(lambdas.nullExtension, EXTENSION_SOURCES.nullExtension),
};
for (const lambda of Object.values(lambdas)) await lambda.shutdown();
fakeControlPlane.close();

const fmt = (value, digits = 1) => value.toFixed(digits);
const verdict = (ok) => (ok ? 'PASS' : 'FAIL');
const coldMedian = Object.fromEntries(Object.entries(cold).map(([kind, runs]) => [kind, median(runs)]));
const coldFastest = Object.fromEntries(Object.entries(cold).map(([kind, runs]) => [kind, Math.min(...runs)]));
const added = coldMedian.layer - coldMedian.bare;
const responseRatio = warm.layer.response / warm.bare.response;
const medianMemory = (samples) =>
  samples.length === 0
    ? undefined
    : Object.fromEntries(
        Object.keys(samples[0]).map((key) => [key, median(samples.map((sample) => sample[key]))]),
      );
const rssMb = afterWarm.layer?.rss ?? Number.NaN;

console.log(
  `layer cold start and overhead (local Lambda; ${coldRuns} cold starts, ${warmRuns} warm invocations per configuration)`,
);
console.log(
  `  machine load average (1 min) at the end: ${loadavg()[0].toFixed(2)} on ${availableParallelism()} CPUs`,
);
console.log('  init duration            median    fastest');
for (const kind of Object.keys(cold)) {
  console.log(
    `    ${kind.padEnd(22)} ${fmt(coldMedian[kind]).padStart(7)} ms ${fmt(coldFastest[kind]).padStart(7)} ms`,
  );
}
console.log(
  policyDelayMs > 0
    ? `  added to init by the layer: ${fmt(added)} ms median, ${fmt(coldFastest.layer - coldFastest.bare)} ms fastest, with the policy answered after ${policyDelayMs} ms: ${fmt(added - policyDelayMs)} ms beyond that wait (target < 30 ms) ${verdict(added - policyDelayMs < 30)}`
    : `  added to init by the layer: ${fmt(added)} ms median, ${fmt(coldFastest.layer - coldFastest.bare)} ms fastest (target < 30 ms; includes the loopback policy round trip) ${verdict(added < 30)}`,
);
console.log(
  `    agent alone: ${fmt(coldMedian.agentOnly - coldMedian.bare)} ms median; a do-nothing Node extension: ${fmt(coldMedian.nullExtension - coldMedian.bare)} ms median; the layer with the policy already in place (no fetch, no hand-off wait): ${fmt(coldMedian.layerPolicyInPlace - coldMedian.bare)} ms median; the layer with the extension registering from Node instead of bash: ${fmt(coldMedian.layerLateRegistration - coldMedian.bare)} ms median`,
);
console.log(
  `  warm response, median: bare ${fmt(warm.bare.response, 2)} ms, agent alone ${fmt(warm.agentOnly.response, 2)} ms, null extension ${fmt(warm.nullExtension.response, 2)} ms, layer ${fmt(warm.layer.response, 2)} ms; layer/bare ${fmt(responseRatio, 3)}x (target <= 1.05x) ${verdict(responseRatio <= 1.05)}, agent alone/bare ${fmt(warm.agentOnly.response / warm.bare.response, 3)}x, layer/null extension ${fmt(warm.layer.response / warm.nullExtension.response, 3)}x`,
);
console.log(
  `  warm response with one observed operation, median: bare ${fmt(warm.bareGoverned.response, 2)} ms, layer ${fmt(warm.layerGoverned.response, 2)} ms, ratio ${fmt(warm.layerGoverned.response / warm.bareGoverned.response, 3)}x`,
);
console.log(
  `  warm until frozen, median: bare ${fmt(warm.bare.untilFrozen, 2)} ms, layer ${fmt(warm.layer.untilFrozen, 2)} ms (+${fmt(warm.layer.untilFrozen - warm.bare.untilFrozen)} ms: waiting for platform.runtimeDone, which the Telemetry API buffers >= 25 ms, then the flush; billed time, not seen by the caller)`,
);
if (initCpu.layer.length > 0 && initCpu.nullExtension.length > 0) {
  console.log(
    `  extension CPU until Init ends, median: ${fmt(median(initCpu.layer))} ms; a do-nothing Node extension ${fmt(median(initCpu.nullExtension))} ms (Node's own start is most of that)`,
  );
}
const memoryRows = [
  [
    'after Init and one invocation (median of the cold starts)',
    medianMemory(afterInit.layer),
    medianMemory(afterInit.nullExtension),
  ],
  [`after ${warmRuns + 20} x 2 warm invocations`, afterWarm.layer, afterWarm.nullExtension],
];
console.log('  extension memory, MB          RSS     PSS  private  anonymous');
for (const [when, ours, theirs] of memoryRows) {
  console.log(`    ${when}:`);
  for (const [label, memory] of [
    ['appdefender', ours],
    ['do-nothing Node', theirs],
  ]) {
    if (!memory) continue;
    console.log(
      `      ${label.padEnd(20)} ${fmt(memory.rss).padStart(6)} ${fmt(memory.pss).padStart(7)} ${fmt(memory.private).padStart(8)} ${fmt(memory.anonymous).padStart(10)}`,
    );
  }
}
const floor = afterWarm.nullExtension;
console.log(
  `  extension RSS after the warm invocations: ${fmt(rssMb)} MB (target < 40 MB) ${verdict(rssMb < 40)}${floor ? `; ${fmt(floor.rss - floor.anonymous)} MB of the do-nothing Node extension's ${fmt(floor.rss)} MB are mapped files (the node binary's code, shared with the runtime's node): its RSS is the floor for any Node extension` : ''}`,
);
