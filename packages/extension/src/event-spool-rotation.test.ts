import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EventSpool, rotatedPathOf, type SpoolLimits } from './event-spool.js';
import { runtimeFilesIn } from './runtime-dir.js';

const line = (id: string) => `${JSON.stringify({ id, category: 'network', pad: 'x'.repeat(40) })}\n`;

function freshFiles() {
  return runtimeFilesIn(fs.mkdtempSync(join(tmpdir(), 'spool-rotation-')));
}

/** The agent's way of writing one line: open with O_APPEND (creating), write, close. */
function agentAppend(path: string, text: string): void {
  const fd = fs.openSync(path, 'a', 0o600);
  try {
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads and commits until nothing is left; returns the ids, in delivery order. */
function drainAll(spool: EventSpool): string[] {
  const ids: string[] = [];
  for (let batch = spool.readBatch(); batch; batch = spool.readBatch()) {
    ids.push(...batch.events.map((event) => event.id as string));
    spool.commit(batch);
  }
  return ids;
}

function clock(start = 1_000_000) {
  const state = { now: start };
  return { now: () => state.now, advance: (ms: number) => (state.now += ms) };
}

const limits: SpoolLimits = {
  maxBatchEvents: 50,
  maxBatchBytes: 64 * 1024,
  maxSpoolBytes: 1 << 20,
  rotateBytes: 1000,
  rotateGraceMs: 500,
};

describe('EventSpool rotation', () => {
  it('rotates a delivered file past the threshold, drains late lines from it, deletes it after the grace period', () => {
    const files = freshFiles();
    const time = clock();
    const spool = new EventSpool(files, limits, time.now);
    for (let i = 0; i < 30; i++) agentAppend(files.events, line(`a${i}`));
    expect(drainAll(spool)).toHaveLength(30);

    const rotated = rotatedPathOf(files);
    expect(fs.existsSync(files.events)).toBe(false);
    expect(fs.existsSync(rotated)).toBe(true);
    expect(spool.rotationPending()).toBe(true);
    expect(JSON.parse(fs.readFileSync(files.deliveredOffset, 'utf8')).rotated.offset).toBe(
      fs.statSync(rotated).size,
    );

    // a write that opened the old name before the rename lands in the rotated file
    fs.appendFileSync(rotated, line('late'));
    // and the agent's next line creates a fresh events.ndjson
    agentAppend(files.events, line('b0'));
    expect(spool.hasPending()).toBe(true);
    expect(drainAll(spool)).toEqual(['late', 'b0']);

    time.advance(400);
    expect(drainAll(spool)).toEqual([]);
    expect(fs.existsSync(rotated)).toBe(true); // changed less than the grace period ago
    time.advance(200);
    expect(drainAll(spool)).toEqual([]);
    expect(fs.existsSync(rotated)).toBe(false);
    expect(spool.rotationPending()).toBe(false);
    expect(JSON.parse(fs.readFileSync(files.deliveredOffset, 'utf8')).rotated).toBeUndefined();
    expect(fs.readFileSync(files.events, 'utf8')).toBe(line('b0'));
  });

  it('never rotates a file with undelivered lines, a small file, or with ES_SPOOL_ROTATE_BYTES=0', () => {
    const files = freshFiles();
    for (let i = 0; i < 30; i++) agentAppend(files.events, line(`a${i}`));
    const spool = new EventSpool(files, { ...limits, maxBatchEvents: 10 });
    spool.commit(spool.readBatch()!);
    expect(spool.rotationPending()).toBe(false);
    expect(fs.existsSync(files.events)).toBe(true);

    const small = freshFiles();
    agentAppend(small.events, line('only'));
    const smallSpool = new EventSpool(small, limits);
    expect(drainAll(smallSpool)).toEqual(['only']);
    expect(smallSpool.rotationPending()).toBe(false);

    const never = freshFiles();
    for (let i = 0; i < 30; i++) agentAppend(never.events, line(`a${i}`));
    const neverSpool = new EventSpool(never, { ...limits, rotateBytes: 0 });
    expect(drainAll(neverSpool)).toHaveLength(30);
    expect(neverSpool.rotationPending()).toBe(false);
  });

  it('a restart in the middle of a rotation neither skips nor re-reads, whichever step it stopped after', () => {
    const files = freshFiles();
    const time = clock();
    const spool = new EventSpool(files, limits, time.now);
    for (let i = 0; i < 30; i++) agentAppend(files.events, line(`a${i}`));
    expect(drainAll(spool)).toHaveLength(30);
    expect(spool.rotationPending()).toBe(true);
    const rotatedMark = fs.readFileSync(files.deliveredOffset, 'utf8');

    fs.appendFileSync(rotatedPathOf(files), line('late'));
    agentAppend(files.events, line('b0'));

    // restarted after the mark was written
    const restarted = new EventSpool(files, limits, time.now);
    expect(drainAll(restarted)).toEqual(['late', 'b0']);

    // restarted after the rename but before the mark recorded it: the old mark names the live file
    // by inode and offset, and that inode is now the rotated file's
    fs.writeFileSync(files.deliveredOffset, rotatedMark);
    const liveSize = fs.statSync(files.events).size;
    const rotatedSize = fs.statSync(rotatedPathOf(files)).size;
    const oldMark = JSON.parse(rotatedMark) as { rotated: { inode: number; offset: number } };
    fs.writeFileSync(files.deliveredOffset, JSON.stringify(oldMark.rotated));
    const stoppedBeforeMark = new EventSpool(files, limits, time.now);
    // the rotated file from its recorded offset (so 'late' again: it was after that offset), the
    // fresh live file from its start
    expect(drainAll(stoppedBeforeMark)).toEqual(['late', 'b0']);
    expect(rotatedSize).toBeGreaterThan(oldMark.rotated.offset);
    expect(liveSize).toBe(line('b0').length);

    // restarted after the rotated file was deleted but before the mark said so
    const deleting = new EventSpool(files, limits, time.now);
    drainAll(deleting);
    time.advance(limits.rotateGraceMs + 1);
    const markWithRotated = fs.readFileSync(files.deliveredOffset, 'utf8');
    expect(JSON.parse(markWithRotated).rotated).toBeDefined();
    drainAll(deleting);
    expect(fs.existsSync(rotatedPathOf(files))).toBe(false);
    fs.writeFileSync(files.deliveredOffset, markWithRotated);
    agentAppend(files.events, line('b1'));
    expect(drainAll(new EventSpool(files, limits, time.now))).toEqual(['b1']);
  });

  it('delivers every line exactly once while a child process appends and the spool rotates', async () => {
    const files = freshFiles();
    const total = 4000;
    const writer = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('node:fs');
         const [path, total] = [process.argv[1], Number(process.argv[2])];
         for (let i = 0; i < total; i++) {
           const fd = fs.openSync(path, 'a', 0o600);
           fs.writeSync(fd, JSON.stringify({ id: 'e' + i, category: 'network', pad: 'x'.repeat(40) }) + '\\n');
           fs.closeSync(fd);
           // now and then a pause, so the reader catches up and rotations happen mid-stream
           if (i % 5 === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
         }`,
        files.events,
        String(total),
      ],
      { stdio: 'inherit' },
    );
    const exited = new Promise<number | null>((resolve) => writer.on('exit', resolve));
    let done = false;
    void exited.then(() => (done = true));

    const settings: SpoolLimits = { ...limits, maxBatchEvents: 7, rotateBytes: 2000, rotateGraceMs: 30 };
    let spool = new EventSpool(files, settings);
    const delivered: string[] = [];
    let rotations = 0;
    let restarts = 0;
    let wasRotating = false;
    while (!done || spool.hasPending() || spool.rotationPending()) {
      const batch = spool.readBatch();
      if (batch) {
        delivered.push(...batch.events.map((event) => event.id as string));
        spool.commit(batch);
      }
      if (spool.rotationPending() && !wasRotating) {
        rotations++;
        // every few rotations, an extension restart in the middle of one
        if (rotations % 3 === 0) {
          spool = new EventSpool(files, settings);
          restarts++;
        }
      }
      wasRotating = spool.rotationPending();
      if (!batch) await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(await exited).toBe(0);

    expect(rotations).toBeGreaterThan(3);
    expect(restarts).toBeGreaterThan(0);
    expect(new Set(delivered).size).toBe(delivered.length);
    expect(delivered).toHaveLength(total);
    expect(spool.dropped).toBe(0);
    expect(fs.existsSync(rotatedPathOf(files))).toBe(false);
  });
});
