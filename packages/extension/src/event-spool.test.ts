import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventSpool, parseEventLine } from './event-spool.js';
import { runtimeFilesIn } from './runtime-dir.js';

const limits = {
  maxBatchEvents: 3,
  maxBatchBytes: 4096,
  maxSpoolBytes: 1024 * 1024,
  rotateBytes: 0,
  rotateGraceMs: 1000,
};

function freshFiles() {
  return runtimeFilesIn(fs.mkdtempSync(join(tmpdir(), 'spool-')));
}

const line = (id: string, pad = '') => `${JSON.stringify({ id, category: 'network', pad })}\n`;

describe('EventSpool', () => {
  it('reads whole lines only, in batches, and resumes after the committed offset', () => {
    const files = freshFiles();
    fs.writeFileSync(files.events, `${line('a')}${line('b')}${line('c')}${line('d')}{"id":"partial`);
    const spool = new EventSpool(files, limits);

    const first = spool.readBatch();
    expect(first?.events.map((event) => event.id)).toEqual(['a', 'b', 'c']);
    // not committed: the same batch again (a failed delivery is retried as it was)
    expect(spool.readBatch()?.events.map((event) => event.id)).toEqual(['a', 'b', 'c']);
    spool.commit(first!);

    const second = spool.readBatch();
    expect(second?.events.map((event) => event.id)).toEqual(['d']);
    spool.commit(second!);
    expect(spool.readBatch()).toBeUndefined();

    // the agent finishes its line
    fs.appendFileSync(files.events, '"}\n');
    expect(spool.readBatch()?.events.map((event) => event.id)).toEqual(['partial']);
  });

  it('persists the delivered offset so a restarted extension neither skips nor re-reads', () => {
    const files = freshFiles();
    fs.writeFileSync(files.events, `${line('a')}${line('b')}`);
    const spool = new EventSpool(files, limits);
    spool.commit(spool.readBatch()!);
    fs.appendFileSync(files.events, line('c'));

    const restarted = new EventSpool(files, limits);
    expect(restarted.readBatch()?.events.map((event) => event.id)).toEqual(['c']);
  });

  it('starts over when the spool file was replaced', () => {
    const files = freshFiles();
    fs.writeFileSync(files.events, `${line('a')}${line('b')}`);
    const spool = new EventSpool(files, limits);
    spool.commit(spool.readBatch()!);
    fs.rmSync(files.events);
    fs.writeFileSync(files.events, line('new'));
    expect(spool.readBatch()?.events.map((event) => event.id)).toEqual(['new']);
  });

  it('skips and counts unreadable lines and lines larger than a batch', () => {
    const files = freshFiles();
    const huge = line('huge', 'x'.repeat(5000));
    fs.writeFileSync(files.events, `not json\n{"no":"id"}\n${huge}${line('ok')}`);
    const spool = new EventSpool(files, limits);
    expect(spool.readBatch()?.events.map((event) => event.id)).toEqual(['ok']);
    expect(spool.dropped).toBe(3);
  });

  it('drops the oldest whole lines beyond the spool bound, counting them', () => {
    const files = freshFiles();
    const lines = Array.from({ length: 100 }, (_, index) => line(`e${String(index).padStart(3, '0')}`));
    fs.writeFileSync(files.events, lines.join(''));
    const spool = new EventSpool(files, { ...limits, maxSpoolBytes: lines[0]!.length * 10 });
    const batch = spool.readBatch();
    expect(spool.dropped).toBe(90);
    expect(batch?.events.map((event) => event.id)).toEqual(['e090', 'e091', 'e092']);
  });
});

describe('parseEventLine', () => {
  it.each([
    ['{"id":"x","category":"network"}', { id: 'x', category: 'network' }],
    ['{"id":""}', undefined],
    ['[1,2]', undefined],
    ['null', undefined],
    ['{"id":', undefined],
    ['', undefined],
  ])('%s', (input, expected) => {
    expect(parseEventLine(Buffer.from(input))).toEqual(expected);
  });
});
