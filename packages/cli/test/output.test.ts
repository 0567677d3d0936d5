import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createOutput } from '../src/output.js';

const stream = (isTTY: boolean) => Object.assign(new PassThrough(), { isTTY });

describe('createOutput', () => {
  it.each([
    ['a terminal', true, {}, false, { color: true, interactive: true }],
    ['NO_COLOR on a terminal', true, { NO_COLOR: '1' }, false, { color: false, interactive: true }],
    ['CI on a terminal', true, { CI: 'true' }, false, { color: false, interactive: false }],
    ['a pipe', false, {}, false, { color: false, interactive: false }],
    ['a pipe with FORCE_COLOR', false, { FORCE_COLOR: '1' }, false, { color: true, interactive: false }],
    ['--json on a terminal', true, {}, true, { color: true, interactive: false }],
  ] as const)('%s', (_name, isTTY, env, json, expected) => {
    const out = createOutput({ stdout: stream(isTTY), stderr: stream(isTTY) }, env, { json });
    expect({ color: out.color, interactive: out.interactive }).toEqual(expected);
  });

  it('writes no escape codes when plain, and progress as lines', () => {
    const stderr = stream(false);
    let text = '';
    stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    const out = createOutput({ stdout: stream(false), stderr }, {}, { json: false });
    const progress = out.progress('Publishing');
    progress.succeed('Published');
    out.warn(out.style.red('careful'));
    expect(text).toBe('Publishing ...\nPublished: done\nwarning: careful\n');
  });
});
