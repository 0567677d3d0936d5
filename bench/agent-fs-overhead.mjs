// Filesystem hot-path overhead of the agent: fs.statSync and fs.readFileSync (utf8, small file) per
// call, as ratios against bare node measured in the same run, and against Node's own permission
// model (--experimental-permission --allow-fs-read=* --allow-fs-write=*).
//
// Targets the agent lets through: an ungoverned file (outside /tmp and the application directory)
// and a governed file under allowedPaths. Targets (issue 3): observe/deny policies on allowed
// targets <= 1.10x bare node; grant-only <= 1.02x.
//
//   npm run build -w @appdefender/agent   (or: node packages/agent/build.mjs)
//   node bench/agent-fs-overhead.mjs [--rounds 5] [--iterations 100000]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, iterations: { type: 'string', default: '100000' } },
});
const rounds = Number(values.rounds);
const iterations = Number(values.iterations);
if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(iterations) || iterations < 1000) {
  throw new Error('--rounds must be >= 1 and --iterations >= 1000');
}

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const agent = join(root, 'packages', 'agent', 'dist', 'agent.cjs');
if (!existsSync(agent)) throw new Error(`${agent} is missing: run node packages/agent/build.mjs first`);

// Ungoverned: /var/tmp is neither /tmp nor the application directory (LAMBDA_TASK_ROOT below).
const ungovernedDir = mkdtempSync(join('/var/tmp', 'agent-fs-bench-'));
const governedDir = mkdtempSync(join(tmpdir(), 'agent-fs-bench-'));
const appDir = join(governedDir, 'task');
const allowedDir = join(governedDir, 'allowed');
mkdirSync(appDir);
mkdirSync(allowedDir);
const ungovernedFile = join(ungovernedDir, 'file.txt');
const allowedFile = join(allowedDir, 'file.txt');
writeFileSync(ungovernedFile, 'x'.repeat(256));
writeFileSync(allowedFile, 'x'.repeat(256));

const workload = `
const fs = require('node:fs');
const [target, op, iterations] = [process.argv[1], process.argv[2], Number(process.argv[3])];
// 'after-spawn': a child process ran first, which ends the agent's caching of link resolutions
if (process.argv[4] === 'after-spawn') require('node:child_process').spawnSync('true');
const call = op === 'stat' ? () => fs.statSync(target) : () => fs.readFileSync(target, 'utf8');
for (let i = 0; i < 20000; i++) call();
const samples = [];
for (let round = 0; round < 3; round++) {
  // CPU time (user + system), not wall time: time spent waiting for the shared machine's cores is not ours
  const start = process.cpuUsage();
  for (let i = 0; i < iterations; i++) call();
  const used = process.cpuUsage(start);
  samples.push(((used.user + used.system) * 1000) / iterations);
}
samples.sort((a, b) => a - b);
process.stdout.write(JSON.stringify({ nsPerOp: samples[0] }));
`;

function policyFile(name, fields) {
  const path = join(governedDir, `${name}.json`);
  writeFileSync(path, JSON.stringify({ name, network: 'grant', process: 'grant', ...fields }));
  return path;
}

const configurations = [
  { name: 'bare node', args: [] },
  {
    name: 'permission model',
    args: ['--experimental-permission', '--allow-fs-read=*', '--allow-fs-write=*', '--allow-child-process'],
  },
  {
    name: 'agent grant-only',
    args: ['--require', agent],
    policy: policyFile('grant', { filesystem: 'grant' }),
  },
  {
    name: 'agent observe',
    args: ['--require', agent],
    policy: policyFile('observe', { filesystem: 'observe', allowedPaths: [allowedDir] }),
  },
  {
    name: 'agent deny',
    args: ['--require', agent],
    policy: policyFile('deny', { filesystem: 'deny', allowedPaths: [allowedDir] }),
  },
  {
    name: 'agent deny+child',
    args: ['--require', agent],
    policy: policyFile('deny-child', {
      filesystem: 'deny',
      allowedPaths: [allowedDir],
      process: 'deny',
      allowedCommands: ['true'],
    }),
    afterSpawn: true,
  },
];
const cases = [
  { op: 'stat', target: ungovernedFile, label: 'statSync ungoverned' },
  { op: 'read', target: ungovernedFile, label: 'readFileSync ungoverned' },
  { op: 'stat', target: allowedFile, label: 'statSync allowedPaths' },
  { op: 'read', target: allowedFile, label: 'readFileSync allowedPaths' },
];

function measure(configuration, testCase) {
  const env = {
    PATH: process.env.PATH,
    LAMBDA_TASK_ROOT: appDir,
    ES_RUNTIME_DIR: join(governedDir, 'runtime'),
  };
  if (configuration.policy) env.ES_POLICY_FILE = configuration.policy;
  const result = spawnSync(
    process.execPath,
    [
      ...configuration.args,
      '-e',
      workload,
      testCase.target,
      testCase.op,
      String(iterations),
      configuration.afterSpawn ? 'after-spawn' : '',
    ],
    { env, encoding: 'utf8', cwd: appDir, timeout: 120_000 },
  );
  const line = result.stdout.split('\n').find((text) => text.startsWith('{"nsPerOp"'));
  if (result.status !== 0 || !line) {
    throw new Error(`${configuration.name} / ${testCase.label} failed (${result.status}): ${result.stderr}`);
  }
  if (/"action"/.test(result.stdout))
    throw new Error(`${configuration.name} / ${testCase.label} reported events on an allowed target`);
  return JSON.parse(line).nsPerOp;
}

// the least disturbed sample: other processes on the shared machine only ever add time
const fastest = (numbers) => Math.min(...numbers);

try {
  const rows = [];
  for (const testCase of cases) {
    const samples = new Map(configurations.map((configuration) => [configuration.name, []]));
    // interleaved rounds, so drift of the shared machine hits every configuration alike
    for (let round = 0; round < rounds; round++) {
      for (const configuration of configurations)
        samples.get(configuration.name).push(measure(configuration, testCase));
    }
    const bare = fastest(samples.get('bare node'));
    for (const configuration of configurations) {
      const ns = fastest(samples.get(configuration.name));
      rows.push({ case: testCase.label, configuration: configuration.name, ns, ratio: ns / bare });
    }
  }
  // 'agent deny+child' has no target: after a child process every governed access resolves links afresh
  const limits = { 'agent grant-only': 1.02, 'agent observe': 1.1, 'agent deny': 1.1 };
  console.log(
    `fs hot path, ${iterations} calls x 3 per sample, fastest of ${rounds} interleaved samples (node ${process.version})\n`,
  );
  console.log(
    `${'case'.padEnd(28)}${'configuration'.padEnd(20)}${'ns/op'.padStart(10)}${'x bare'.padStart(9)}  target`,
  );
  for (const row of rows) {
    const limit = limits[row.configuration];
    const verdict =
      limit === undefined ? '' : `${row.ratio <= limit ? 'ok ' : 'OVER'} <= ${limit.toFixed(2)}`;
    console.log(
      `${row.case.padEnd(28)}${row.configuration.padEnd(20)}${row.ns.toFixed(0).padStart(10)}${row.ratio.toFixed(3).padStart(9)}  ${verdict}`,
    );
  }
} finally {
  rmSync(ungovernedDir, { recursive: true, force: true });
  rmSync(governedDir, { recursive: true, force: true });
}
