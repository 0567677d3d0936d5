// What the local Lambda itself costs, so layer benchmarks can be read against it: cold start
// (Init duration) of a bare function vs. with a minimal external extension written in Node, registered
// either from Node or by a bash launcher before Node boots; and warm invocation time with and without
// the extension: the response time (what the caller waits for) and the time until the environment
// freezes (runtime and extension called next). Ratios are against the bare function measured in the same run.
// Run: npx tsc -b testing/lambda-sim && node bench/lambda-sim-overhead.mjs [--cold N] [--warm N]
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const dist = new URL('../testing/lambda-sim/dist/index.js', import.meta.url);
if (!existsSync(dist)) {
  console.error('testing/lambda-sim is not built: run `npx tsc -b testing/lambda-sim` first');
  process.exit(1);
}
const { startLambda } = await import(dist.href);
const { values } = parseArgs({
  options: { cold: { type: 'string', default: '5' }, warm: { type: 'string', default: '200' } },
});
const coldRuns = Number(values.cold);
const warmRuns = Number(values.warm);

const root = mkdtempSync(join(tmpdir(), 'lambda-sim-bench-'));
const taskRoot = join(root, 'task');
mkdirSync(taskRoot);
writeFileSync(join(taskRoot, 'index.js'), 'exports.handler = async (event) => ({ ok: true, n: event.n });\n');

// The extension's event loop in Node: takes an identifier from EXT_ID or registers itself.
const extensionLoop = `
const http = require('node:http');
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const agent = new http.Agent({ keepAlive: true });
const call = (method, path, headers, body) => new Promise((resolve, reject) => {
  const req = http.request({ host, port, method, path, headers, agent }, (res) => {
    let data = ''; res.setEncoding('utf8').on('data', (c) => (data += c)).on('end', () => resolve({ headers: res.headers, body: data }));
  });
  req.on('error', reject); req.end(body);
});
(async () => {
  let id = process.env.EXT_ID;
  if (!id) {
    const reg = await call('POST', '/2020-01-01/extension/register', { 'Lambda-Extension-Name': process.env.EXT_NAME }, '{"events":["INVOKE","SHUTDOWN"]}');
    id = reg.headers['lambda-extension-identifier'];
  }
  for (;;) {
    const event = JSON.parse((await call('GET', '/2020-01-01/extension/event/next', { 'Lambda-Extension-Identifier': id })).body);
    if (event.eventType === 'SHUTDOWN') process.exit(0);
  }
})();
`;

function layerWith(kind) {
  const layerDir = join(root, kind);
  mkdirSync(join(layerDir, 'extensions'), { recursive: true });
  writeFileSync(join(layerDir, 'loop.cjs'), extensionLoop);
  const launcher =
    kind === 'node-registers'
      ? `#!/bin/bash\nEXT_NAME="\${0##*/}" exec node "${layerDir}/loop.cjs"\n`
      : // Registers over /dev/tcp with bash builtins, so the runtime can start while Node boots.
        `#!/bin/bash
api="$AWS_LAMBDA_RUNTIME_API"; body='{"events":["INVOKE","SHUTDOWN"]}'
exec 3<>"/dev/tcp/\${api%:*}/\${api#*:}"
printf 'POST /2020-01-01/extension/register HTTP/1.1\\r\\nHost: %s\\r\\nLambda-Extension-Name: %s\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\nConnection: close\\r\\n\\r\\n%s' "$api" "\${0##*/}" "\${#body}" "$body" >&3
while IFS= read -r line <&3; do
  line="\${line%$'\\r'}"; [ -z "$line" ] && break
  case "\${line,,}" in lambda-extension-identifier:*) id="\${line#*: }" ;; esac
done
exec 3<&-
EXT_ID="$id" exec node "${layerDir}/loop.cjs"
`;
  writeFileSync(join(layerDir, 'extensions', 'bench-ext'), launcher);
  chmodSync(join(layerDir, 'extensions', 'bench-ext'), 0o755);
  return layerDir;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const variants = [
  { name: 'bare function', layerDir: undefined },
  { name: 'node extension, registers from node', layerDir: layerWith('node-registers') },
  { name: 'node extension, bash launcher registers first', layerDir: layerWith('bash-registers') },
];

const results = [];
try {
  for (const variant of variants) {
    const inits = [];
    let warm = [];
    let response = [];
    let extensionRssMb;
    for (let i = 0; i < coldRuns; i++) {
      const options = {
        handler: 'index.handler',
        taskRoot,
        ...(variant.layerDir ? { layerDir: variant.layerDir } : {}),
      };
      const lambda = await startLambda(options);
      inits.push(lambda.initDurationMs);
      if (i === 0) {
        for (let n = 0; n < warmRuns; n++) {
          const r = await lambda.invoke({ n });
          if (!r.ok) throw new Error(`invocation failed: ${JSON.stringify(r.error)}`);
          response.push(r.durationMs);
          warm.push(r.durationMs + r.postRuntimeDurationMs);
        }
        const ext = lambda.memoryUsage().find((m) => m.source.startsWith('extension:'));
        extensionRssMb = ext ? ext.rssKb / 1024 : undefined;
      }
      await lambda.shutdown();
    }
    // Drop the first 10 % (JIT warm-up).
    warm = warm.slice(Math.floor(warm.length / 10));
    response = response.slice(Math.floor(response.length / 10));
    results.push({
      name: variant.name,
      initMs: median(inits),
      responseMs: median(response),
      warmMs: median(warm),
      extensionRssMb,
    });
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}

const [base] = results;
console.log(`lambda-sim overhead (median of ${coldRuns} cold starts, ${warmRuns} warm invocations each)`);
for (const r of results) {
  console.log(
    `${r.name.padEnd(48)} init ${r.initMs.toFixed(1).padStart(6)} ms (x${(r.initMs / base.initMs).toFixed(2)}, +${(r.initMs - base.initMs).toFixed(1)} ms)` +
      `  response ${r.responseMs.toFixed(2).padStart(5)} ms (x${(r.responseMs / base.responseMs).toFixed(2)})` +
      `  until frozen ${r.warmMs.toFixed(2).padStart(5)} ms (x${(r.warmMs / base.warmMs).toFixed(2)})` +
      (r.extensionRssMb !== undefined ? `  extension RSS ${r.extensionRssMb.toFixed(1)} MB` : ''),
  );
}
