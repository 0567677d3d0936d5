import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCliArgs } from '../src/cli-args.js';
import { LambdaSimError } from '../src/index.js';
import { makeTempDir, writeFile } from './fixtures.js';

describe('lambda-sim command line', () => {
  const temp = makeTempDir('cli');
  afterAll(() => temp.cleanup());

  it('turns arguments into startLambda options, an event and a count', () => {
    const eventFile = writeFile(join(temp.dir, 'event.json'), '{"from":"file"}');

    const command = parseCliArgs([
      '--handler',
      'app.main',
      '--task-root',
      '/code',
      '--layer-dir',
      '/layer',
      '--env',
      'A=1',
      '--env',
      'B=x=y',
      '--event-file',
      eventFile,
      '--count',
      '3',
      '--timeout-ms',
      '500',
      '--memory-mb',
      '512',
      '--function-name',
      'fn',
      '--runtime',
      'nodejs22.x',
      '--no-freeze',
      '--quiet',
    ]);

    expect(command).toEqual({
      kind: 'run',
      event: { from: 'file' },
      count: 3,
      options: {
        handler: 'app.main',
        taskRoot: '/code',
        layerDir: '/layer',
        env: { A: '1', B: 'x=y' },
        freeze: false,
        echo: false,
        timeoutMs: 500,
        memoryMb: 512,
        functionName: 'fn',
        runtime: 'nodejs22.x',
      },
    });
  });

  it('defaults to one invocation with {} and echoing logs', () => {
    expect(parseCliArgs(['--handler', 'index.handler', '--task-root', '.'])).toMatchObject({
      kind: 'run',
      event: {},
      count: 1,
      options: { echo: true, freeze: true, env: {} },
    });
  });

  it.each([
    [['--help'], 0],
    [['--handler', 'index.handler'], 2],
  ])('shows the usage for %j with exit code %i', (argv, exitCode) => {
    expect(parseCliArgs(argv)).toEqual({ kind: 'usage', exitCode });
  });

  it.each([
    [['--env', 'NOEQUALS'], '--env NOEQUALS: expected KEY=VALUE'],
    [['--count', '0'], '--count must be a positive integer, got 0'],
    [['--event', '{oops'], 'not valid JSON'],
    [['--event', '{}', '--event-file', 'x.json'], 'either --event or --event-file'],
    [['--bogus'], "Unknown option '--bogus'"],
  ])('rejects %j', (extra, message) => {
    const act = () => parseCliArgs(['--handler', 'index.handler', '--task-root', '.', ...extra]);

    expect(act).toThrow(LambdaSimError);
    expect(act).toThrow(message);
  });
});
