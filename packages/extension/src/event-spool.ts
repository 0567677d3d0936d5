/**
 * Reads the agent's events.ndjson by byte offset. The file itself is the spool: events stay in it
 * until a batch containing them was accepted, and the delivered offset is persisted beside it so a
 * restarted extension neither skips nor re-reads (the server also dedupes by id, so a retry of a
 * batch whose answer was lost is harmless). Only whole lines are read; a line the agent is still
 * writing waits for the next read.
 */
import * as fs from 'node:fs';
import { type RuntimeFiles, readJsonIfPresent, writeFileAtomic } from './runtime-dir.js';

export interface SpoolLimits {
  maxBatchEvents: number;
  maxBatchBytes: number;
  /** Undelivered bytes kept; beyond this the oldest lines are dropped and counted. */
  maxSpoolBytes: number;
}

export interface EventBatch {
  events: Record<string, unknown>[];
  /** Offset just past the last line of the batch: committed once the batch was delivered. */
  endOffset: number;
}

interface DeliveredMark {
  inode: number;
  offset: number;
}

const NEWLINE = 0x0a;

export class EventSpool {
  private offset = 0;
  private inode = -1;
  /** Events that never reach the control plane (overflow, unreadable lines, refused batches). */
  dropped = 0;

  constructor(
    private readonly files: RuntimeFiles,
    private readonly limits: SpoolLimits,
  ) {
    try {
      const mark = readJsonIfPresent(files.deliveredOffset) as Partial<DeliveredMark> | undefined;
      if (mark && Number.isInteger(mark.offset) && Number.isInteger(mark.inode)) {
        this.offset = mark.offset as number;
        this.inode = mark.inode as number;
      }
    } catch {
      // an unreadable mark means starting from the beginning: the server dedupes what was sent before
    }
  }

  /** Bytes written by the agent and not yet delivered. */
  pendingBytes(): number {
    const stat = this.stat();
    return stat ? Math.max(0, stat.size - this.offset) : 0;
  }

  /** Whether the agent wrote anything not yet delivered (one stat). */
  hasPending(): boolean {
    const stat = this.stat();
    return stat !== undefined && stat.size > this.offset;
  }

  /** The next batch of whole lines after the delivered offset, or undefined when there is none. */
  readBatch(): EventBatch | undefined {
    const stat = this.stat();
    if (!stat || stat.size <= this.offset) return undefined;
    if (stat.size - this.offset > this.limits.maxSpoolBytes)
      this.dropOldest(stat.size - this.limits.maxSpoolBytes);

    const fd = fs.openSync(this.files.events, 'r');
    try {
      const events: Record<string, unknown>[] = [];
      let position = this.offset;
      let scanned = 0;
      const buffer = Buffer.allocUnsafe(
        Math.min(this.limits.maxBatchBytes, Math.max(0, stat.size - position)),
      );
      const bytesRead = fs.readSync(fd, buffer, 0, buffer.length, position);
      let lineStart = 0;
      while (events.length < this.limits.maxBatchEvents) {
        const newline = buffer.indexOf(NEWLINE, lineStart);
        if (newline < 0 || newline >= bytesRead) break;
        const event = parseEventLine(buffer.subarray(lineStart, newline));
        if (event) events.push(event);
        else if (newline > lineStart) this.dropped++;
        lineStart = newline + 1;
        scanned = lineStart;
      }
      if (scanned === 0 && bytesRead === this.limits.maxBatchBytes) {
        // One line longer than a whole batch: no request could carry it, so skip it, counted.
        const end = findNewline(fd, position + bytesRead, stat.size);
        if (end === undefined) return undefined;
        this.dropped++;
        this.commit(end + 1);
        return this.readBatch();
      }
      position += scanned;
      if (scanned === 0) return undefined;
      if (events.length === 0) {
        // only unreadable lines: nothing to send, move past them
        this.commit(position);
        return this.readBatch();
      }
      return { events, endOffset: position };
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Marks everything before `endOffset` delivered. */
  commit(endOffset: number): void {
    this.offset = endOffset;
    try {
      writeFileAtomic(this.files.deliveredOffset, JSON.stringify({ inode: this.inode, offset: endOffset }));
    } catch {
      // without the mark a restarted extension resends; the server dedupes by id
    }
  }

  private stat(): fs.Stats | undefined {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(this.files.events);
    } catch {
      return undefined;
    }
    // A different file (recreated) or a shorter one (truncated) starts over from its beginning.
    if (stat.ino !== this.inode || stat.size < this.offset) {
      this.inode = stat.ino;
      this.offset = 0;
    }
    return stat;
  }

  /** Skips whole lines until at least `targetOffset`, counting them as dropped. */
  private dropOldest(targetOffset: number): void {
    const fd = fs.openSync(this.files.events, 'r');
    try {
      const chunk = Buffer.allocUnsafe(64 * 1024);
      let scanPosition = this.offset;
      let lineBoundary = this.offset;
      let lines = 0;
      while (lineBoundary < targetOffset) {
        const bytesRead = fs.readSync(fd, chunk, 0, chunk.length, scanPosition);
        if (bytesRead === 0) break;
        let index = chunk.indexOf(NEWLINE);
        while (index >= 0 && index < bytesRead && lineBoundary < targetOffset) {
          lines++;
          lineBoundary = scanPosition + index + 1;
          index = chunk.indexOf(NEWLINE, index + 1);
        }
        scanPosition += bytesRead;
      }
      // Stop at a line boundary only: a line the agent is still writing is never cut.
      this.dropped += lines;
      this.commit(lineBoundary);
    } finally {
      fs.closeSync(fd);
    }
  }
}

function findNewline(fd: number, from: number, size: number): number | undefined {
  const chunk = Buffer.allocUnsafe(64 * 1024);
  for (let position = from; position < size; ) {
    const bytesRead = fs.readSync(fd, chunk, 0, chunk.length, position);
    if (bytesRead === 0) return undefined;
    const index = chunk.indexOf(NEWLINE);
    if (index >= 0 && index < bytesRead) return position + index;
    position += bytesRead;
  }
  return undefined;
}

/** One spool line as an event object with a string id; anything else is unreadable. */
export function parseEventLine(line: Buffer): Record<string, unknown> | undefined {
  if (line.length === 0) return undefined;
  try {
    const parsed: unknown = JSON.parse(line.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    const record = parsed as Record<string, unknown>;
    return typeof record.id === 'string' && record.id !== '' ? record : undefined;
  } catch {
    return undefined;
  }
}
