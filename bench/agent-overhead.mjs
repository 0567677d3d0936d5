// Agent overhead, as ratios against bare node measured in the same run (issue 3 targets):
//   cold start: agent load adds < 5 ms wall time and < 5 MB RSS;
//   hot path: net.connect to an allowed loopback host under observe/deny policies <= 1.05x bare node,
//   grant-only <= 1.02x.
// Compared in the same run with Node's own permission model (--experimental-permission; it has no
// network permission on Node 20/22, so it cannot block outbound traffic at all) and with
// @aikidosec/firewall (Zen; its outbound blocking needs its cloud config, so what we measure is the
// cost of its outbound hooks). Filesystem hot-path figures: bench/agent-fs-overhead.mjs.
//
//   node packages/agent/build.mjs && node bench/agent-overhead.mjs [--rounds 15] [--connects 1500]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '15' }, connects: { type: 'string', default: '1500' } },
});
const rounds = Number(values.rounds);
const connects = Number(values.connects);
if (!Number.isInteger(rounds) || rounds < 3 || !Number.isInteger(connects) || connects < 100) {
  throw new Error('--rounds must be >= 3 and --connects >= 100');
}

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const agent = join(root, 'packages', 'agent', 'dist', 'agent.cjs');
if (!existsSync(agent)) throw new Error(`${agent} is missing: run node packages/agent/build.mjs first`);
const zen = createRequire(join(root, 'package.json')).resolve('@aikidosec/firewall');

const work = mkdtempSync(join(tmpdir(), 'agent-bench-'));
const policies = {
  observe: {
    name: 'bench-observe',
    network: 'observe',
    filesystem: 'observe',
    process: 'observe',
    allowedDomains: ['localhost'],
  },
  deny: {
    name: 'bench-deny',
    network: 'deny',
    filesystem: 'deny',
    process: 'deny',
    allowedDomains: ['localhost'],
  },
  grant: { name: 'bench-grant', network: 'grant', filesystem: 'grant', process: 'grant' },
};
const policyFiles = {};
for (const [name, content] of Object.entries(policies)) {
  policyFiles[name] = join(work, `${name}.json`);
  writeFileSync(policyFiles[name], JSON.stringify(content));
}

// The workloads. `empty` measures start-up; `connect` times sequential connect/close cycles to a
// loopback server in the same process (warm-up first, best of three batches).
const emptyApp = join(work, 'empty.cjs');
// process.uptime() at the app's first line: start-up up to the app, without the spawn noise of the wall time
writeFileSync(
  emptyApp,
  `const firstLineMs = process.uptime() * 1000;\nconst cpu = process.cpuUsage();\nprocess.stdout.write(JSON.stringify({ firstLineMs, cpuMs: (cpu.user + cpu.system) / 1000, rss: process.memoryUsage().rss }));\n`,
);
// What the Lambda Node.js runtime client (aws-lambda-ric) itself loads before the handler: the
// agent's share of a real cold start is what it adds on top of that, not on top of an empty node.
// The builtins are read from the ric's own entry (the same code as /var/runtime/index.mjs), and
// imported from an ES module, as the runtime's entry is one: Node's ESM loader (which loads
// fs/promises) is part of every Lambda cold start.
const runtimeBuiltins = builtinsImportedBy(
  createRequire(join(root, 'package.json')).resolve('aws-lambda-ric'),
);
const runtimeLikeApp = join(work, 'runtime-like.mjs');
writeFileSync(
  runtimeLikeApp,
  `${runtimeBuiltins.map((id) => `import '${id}';`).join('\n')}\nconst cpu = process.cpuUsage();\nprocess.stdout.write(JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000 }));\n`,
);
const connectApp = join(work, 'connect.cjs');
writeFileSync(
  connectApp,
  `const net = require('node:net');
const count = Number(process.argv[2]);
const server = net.createServer((socket) => socket.destroy());
const once = (port) => new Promise((resolve, reject) => {
  const socket = net.connect(port, 'localhost');
  socket.on('connect', () => { socket.destroy(); resolve(); });
  socket.on('error', reject);
});
server.listen(0, '127.0.0.1', async () => {
  const { port } = server.address();
  for (let i = 0; i < 200; i++) await once(port);
  let best = Infinity;
  let bestCpu = Infinity;
  for (let batch = 0; batch < 3; batch++) {
    const start = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    for (let i = 0; i < count; i++) await once(port);
    const used = process.cpuUsage(cpu);
    best = Math.min(best, Number(process.hrtime.bigint() - start) / count);
    bestCpu = Math.min(bestCpu, ((used.user + used.system) * 1000) / count);
  }
  server.close();
  process.stdout.write(JSON.stringify({ usPerConnect: best / 1000, cpuUsPerConnect: bestCpu / 1000 }));
});
`,
);

const baseEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
const variants = [
  { name: 'bare node', args: [], env: {} },
  { name: 'agent, observe policy', args: ['--require', agent], env: { ES_POLICY_FILE: policyFiles.observe } },
  { name: 'agent, deny policy', args: ['--require', agent], env: { ES_POLICY_FILE: policyFiles.deny } },
  { name: 'agent, grant-only', args: ['--require', agent], env: { ES_POLICY_FILE: policyFiles.grant } },
  {
    name: 'node --experimental-permission',
    args: ['--experimental-permission', '--allow-fs-read=*', '--allow-fs-write=*', '--no-warnings'],
    env: {},
  },
  { name: '@aikidosec/firewall (Zen)', args: ['--require', zen], env: { AIKIDO_BLOCK: 'true' } },
];

function runNode(variant, app, appArgs = []) {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [...variant.args, app, ...appArgs], {
    env: { ...baseEnv, ...variant.env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
  const line = result.stdout
    .split('\n')
    .filter((l) => l.startsWith('{"'))
    .pop();
  if (result.status !== 0 || !line) {
    throw new Error(`${variant.name} failed (${result.status}): ${result.stderr.slice(0, 500)}`);
  }
  return { wallMs, ...JSON.parse(line) };
}

const median = (numbers) => {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

// Interleave the variants round by round, starting each round with the next one, so machine noise
// and warm-up hit them alike (always running bare node first made it look slower).
const rotated = (round) => variants.map((_, index) => variants[(index + round) % variants.length]);
const samples = new Map(
  variants.map((variant) => [
    variant.name,
    { wallMs: [], firstLineMs: [], cpuMs: [], runtimeCpuMs: [], rss: [], connect: [], connectCpu: [] },
  ]),
);
for (let round = 0; round < rounds; round++) {
  for (const variant of rotated(round)) {
    const { wallMs, firstLineMs, cpuMs, rss } = runNode(variant, emptyApp);
    samples.get(variant.name).cpuMs.push(cpuMs);
    samples.get(variant.name).runtimeCpuMs.push(runNode(variant, runtimeLikeApp).cpuMs);
    samples.get(variant.name).wallMs.push(wallMs);
    samples.get(variant.name).firstLineMs.push(firstLineMs);
    samples.get(variant.name).rss.push(rss);
  }
}
const connectRounds = Math.max(3, Math.round(rounds / 3));
for (let round = 0; round < connectRounds; round++) {
  for (const variant of rotated(round)) {
    const { usPerConnect, cpuUsPerConnect } = runNode(variant, connectApp, [String(connects)]);
    samples.get(variant.name).connect.push(usPerConnect);
    samples.get(variant.name).connectCpu.push(cpuUsPerConnect);
  }
}
// Instructions executed up to the runtime-like app's first line, counted by valgrind's callgrind:
// the same count on every run whatever the neighbours do (V8 single-threaded and with fixed seeds),
// so the agent's share is read without the machine's noise. Converted to milliseconds at bare
// node's own rate (its median CPU time over its instruction count), as an estimate.
const valgrind = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
const instructionCounts = new Map();
if (valgrind.status === 0) {
  for (const variant of variants.filter(({ name }) => name === 'bare node' || name.startsWith('agent'))) {
    instructionCounts.set(variant.name, countInstructions(variant, runtimeLikeApp));
  }
}
rmSync(work, { recursive: true, force: true });

const bare = samples.get('bare node');
const bareStart = median(bare.wallMs);
const bareFirstLine = median(bare.firstLineMs);
const bareCpu = median(bare.cpuMs);
const bareRuntimeCpu = median(bare.runtimeCpuMs);
const bareConnectCpu = median(bare.connectCpu);
const bareRss = median(bare.rss);
const bareConnect = median(bare.connect);
const rows = variants.map(({ name }) => {
  const s = samples.get(name);
  const start = median(s.wallMs);
  const firstLine = median(s.firstLineMs);
  const cpu = median(s.cpuMs);
  const runtimeCpu = median(s.runtimeCpuMs);
  const connectCpu = median(s.connectCpu);
  const rss = median(s.rss);
  const connect = median(s.connect);
  return {
    variant: name,
    'CPU to 1st line ms': cpu.toFixed(1),
    'CPU +ms': (cpu - bareCpu).toFixed(1),
    'CPU +ms, runtime-like app': (runtimeCpu - bareRuntimeCpu).toFixed(1),
    'to 1st line ms': firstLine.toFixed(1),
    'to 1st line +ms': (firstLine - bareFirstLine).toFixed(1),
    'wall ms': start.toFixed(1),
    'wall +ms': (start - bareStart).toFixed(1),
    'RSS MB': (rss / 2 ** 20).toFixed(1),
    'RSS +MB': ((rss - bareRss) / 2 ** 20).toFixed(2),
    'connect us': connect.toFixed(1),
    'connect x': (connect / bareConnect).toFixed(3),
    'connect CPU us': connectCpu.toFixed(1),
    'connect CPU x': (connectCpu / bareConnectCpu).toFixed(3),
    'blocks outbound':
      name === 'bare node'
        ? '-'
        : name.startsWith('agent')
          ? 'yes'
          : name.startsWith('node --')
            ? 'no (no net permission)'
            : 'only with its cloud config',
  };
});
console.log(
  `node ${process.version}, ${rounds} start-up rounds, ${connectRounds} connect rounds of ${connects} connects (medians)`,
);
console.table(rows);
const agentRows = rows.filter((row) => row.variant.startsWith('agent'));
const worstStart = Math.max(...agentRows.map((row) => Number(row['CPU +ms'])));
const worstRuntimeStart = Math.max(...agentRows.map((row) => Number(row['CPU +ms, runtime-like app'])));
const worstRss = Math.max(...agentRows.map((row) => Number(row['RSS +MB'])));
const governed = agentRows.filter((row) => !row.variant.includes('grant'));
const worstConnect = Math.max(...governed.map((row) => Number(row['connect CPU x'])));
const grantConnect = Number(agentRows.find((row) => row.variant.includes('grant'))['connect CPU x']);
if (instructionCounts.size > 0) {
  const bareInstructions = instructionCounts.get('bare node');
  const msPerInstruction = median(bare.runtimeCpuMs) / bareInstructions;
  console.table(
    [...instructionCounts].map(([variant, count]) => ({
      variant,
      'instructions (M)': (count / 1e6).toFixed(1),
      '+M': ((count - bareInstructions) / 1e6).toFixed(1),
      x: (count / bareInstructions).toFixed(3),
      '≈ +ms at bare rate': ((count - bareInstructions) * msPerInstruction).toFixed(1),
    })),
  );
} else {
  console.log('valgrind not found: no instruction counts (apt-get install valgrind)');
}
console.log(
  [
    // CPU time, not wall time: on a shared machine the wall clock mostly measures the neighbours
    `cold start (CPU to the app's first line): +${worstStart.toFixed(1)} ms (target < 5) ${worstStart < 5 ? 'OK' : 'OVER'}`,
    `cold start over what the Lambda runtime client loads anyway: +${worstRuntimeStart.toFixed(1)} ms (target < 5) ${worstRuntimeStart < 5 ? 'OK' : 'OVER'}`,
    `RSS: +${worstRss.toFixed(2)} MB (target < 5) ${worstRss < 5 ? 'OK' : 'OVER'}`,
    `net.connect CPU observe/deny: ${worstConnect.toFixed(3)}x (target <= 1.05) ${worstConnect <= 1.05 ? 'OK' : 'OVER'}`,
    `net.connect CPU grant-only: ${grantConnect.toFixed(3)}x (target <= 1.02) ${grantConnect <= 1.02 ? 'OK' : 'OVER'}`,
  ].join('\n'),
);

/** The `node:` builtins (and bare builtin names) a bundled ES module imports, statically or not. */
function builtinsImportedBy(file) {
  const source = readFileSync(file, 'utf8');
  const found = new Set();
  for (const match of source.matchAll(
    /(?:\bfrom\s*|\bimport\s*\(\s*|[rR]equire\s*\(\s*)["']([a-z_:/]+)["']/g,
  )) {
    const id = match[1].startsWith('node:') ? match[1] : `node:${match[1]}`;
    if (isBuiltin(id)) found.add(id);
  }
  if (found.size === 0) throw new Error(`found no builtin imports in ${file}`);
  return [...found].sort();
}

/** Instructions executed by `variant` running `app`, under callgrind (see above). */
function countInstructions(variant, app) {
  const result = spawnSync(
    'valgrind',
    [
      '--tool=callgrind',
      '--callgrind-out-file=/dev/null',
      process.execPath,
      '--single-threaded',
      '--hash-seed=1',
      '--random-seed=1',
      ...variant.args,
      app,
    ],
    { env: { ...baseEnv, ...variant.env }, encoding: 'utf8', timeout: 600_000 },
  );
  const collected = /Collected : (\d+)/.exec(result.stderr ?? '');
  if (result.status !== 0 || !collected) {
    throw new Error(
      `${variant.name} under valgrind failed (${result.status}): ${result.stderr?.slice(-500)}`,
    );
  }
  return Number(collected[1]);
}
