/**
 * Reads the agent's events.ndjson by byte offset. The file itself is the spool: events stay in it
 * until a batch containing them was accepted, and the delivered offset is persisted beside it so a
 * restarted extension neither skips nor re-reads (the server also dedupes by id, so a retry of a
 * batch whose answer was lost is harmless). Only whole lines are read; a line the agent is still
 * writing waits for the next read.
 *
 * Rotation keeps /tmp from filling up over an environment's life: once everything in a large
 * events.ndjson is delivered it is renamed to events.ndjson.rotated (the agent creates a fresh
 * events.ndjson at its next line), drained until it stays unchanged for a grace period, then deleted.
 * The mark keeps one offset per file, so delivery stays exactly-once across a rotation and a restart.
 */
import * as fs from 'node:fs';
import { type RuntimeFiles, readJsonIfPresent, writeFileAtomic } from './runtime-dir.js';

export interface SpoolLimits {
  maxBatchEvents: number;
  maxBatchBytes: number;
  /** Undelivered bytes kept; beyond this the oldest lines are dropped and counted. */
  maxSpoolBytes: number;
  /** A fully delivered events.ndjson larger than this is rotated away (0: never). */
  rotateBytes: number;
  /** How long a rotated file must stay unchanged, fully delivered, before it is deleted. */
  rotateGraceMs: number;
}

/** Which spool file a batch came from: the agent's live file or the one rotated away. */
export type SpoolFileKind = 'live' | 'rotated';

export interface EventBatch {
  events: Record<string, unknown>[];
  file: SpoolFileKind;
  /** Offset just past the last line of the batch in `file`: committed once the batch was delivered. */
  endOffset: number;
  /** Unreadable lines among the batch's: counted as dropped when it is committed, not at each read. */
  unreadable: number;
}

/**
 * events.delivered. `inode`/`offset` are the live file's (the format before rotation existed);
 * `rotated` is present while a rotated file is being drained.
 */
interface DeliveredMark {
  inode: number;
  offset: number;
  rotated?: { inode: number; offset: number };
}

interface FilePosition {
  inode: number;
  offset: number;
}

interface RotatedState extends FilePosition {
  /** Size last seen, and since when (epoch ms) it has not changed. */
  lastSize: number;
  unchangedSince: number;
}

const NEWLINE = 0x0a;

/** The name events.ndjson is renamed to when it is rotated (docs/architecture.md, hand-off). */
export function rotatedPathOf(files: RuntimeFiles): string {
  return `${files.events}.rotated`;
}

export class EventSpool {
  private live: FilePosition = { inode: -1, offset: 0 };
  private rotated: RotatedState | undefined;
  private readonly rotatedPath: string;
  private readonly now: () => number;
  /** Events that never reach the control plane (overflow, unreadable lines, refused batches). */
  dropped = 0;

  constructor(
    private readonly files: RuntimeFiles,
    private readonly limits: SpoolLimits,
    now: () => number = Date.now,
  ) {
    this.rotatedPath = rotatedPathOf(files);
    this.now = now;
    let mark: Partial<DeliveredMark> | undefined;
    try {
      mark = readJsonIfPresent(files.deliveredOffset) as Partial<DeliveredMark> | undefined;
    } catch {
      // an unreadable mark means starting from the beginning: the server dedupes what was sent before
    }
    this.restore(mark);
  }

  /** Bytes written by the agent and not yet delivered. */
  pendingBytes(): number {
    const live = this.statLive();
    const rotated = this.rotated ? this.statRotated() : undefined;
    return (
      (live ? Math.max(0, live.size - this.live.offset) : 0) +
      (rotated && this.rotated ? Math.max(0, rotated.size - this.rotated.offset) : 0)
    );
  }

  /** Whether the agent wrote anything not yet delivered (one stat, two while rotating). */
  hasPending(): boolean {
    if (this.rotated) {
      const rotated = this.statRotated();
      if (rotated && this.rotated && rotated.size > this.rotated.offset) return true;
    }
    const stat = this.statLive();
    return stat !== undefined && stat.size > this.live.offset;
  }

  /** Whether a rotated file still waits for its grace period before it is deleted. */
  rotationPending(): boolean {
    return this.rotated !== undefined;
  }

  /**
   * The next batch of whole lines after the delivered offset, or undefined when there is none.
   * The rotated file (older events) goes first; once it is delivered and unchanged for the grace
   * period it is deleted.
   */
  readBatch(): EventBatch | undefined {
    if (this.rotated) {
      const stat = this.statRotated();
      if (stat && this.rotated) {
        const batch = this.readFrom('rotated', this.rotatedPath, this.rotated, stat.size);
        if (batch) return batch;
        this.retireRotatedIfQuiet(stat.size);
      }
    }
    const stat = this.statLive();
    if (!stat) return undefined;
    return this.readFrom('live', this.files.events, this.live, stat.size);
  }

  /** Marks everything in the batch's file before its `endOffset` delivered; may rotate the live file. */
  commit(batch: Pick<EventBatch, 'file' | 'endOffset'> & { unreadable?: number }): void {
    this.dropped += batch.unreadable ?? 0;
    if (batch.file === 'rotated') {
      if (this.rotated) this.rotated.offset = batch.endOffset;
    } else {
      this.live.offset = batch.endOffset;
    }
    this.writeMark();
    if (batch.file === 'live') this.rotateIfDue();
  }

  private restore(mark: Partial<DeliveredMark> | undefined): void {
    const markedLive = positionOf(mark);
    const markedRotated = positionOf(mark?.rotated);
    const rotatedStat = statIfPresent(this.rotatedPath);
    if (rotatedStat) {
      if (markedRotated && markedRotated.inode === rotatedStat.ino) {
        this.rotated = this.rotatedState(markedRotated);
      } else if (markedLive && markedLive.inode === rotatedStat.ino) {
        // Stopped between the rename and writing the mark: the live position moved with the file.
        this.rotated = this.rotatedState(markedLive);
        return;
      } else {
        // A rotated file we have no position for: all of it again (the server dedupes by id).
        this.rotated = this.rotatedState({ inode: rotatedStat.ino, offset: 0 });
      }
    }
    // A marked rotated file that is gone was deleted after delivery: nothing of it is left to read.
    if (markedLive) this.live = markedLive;
  }

  private rotatedState(position: FilePosition): RotatedState {
    return { ...position, lastSize: -1, unchangedSince: this.now() };
  }

  private writeMark(): void {
    const mark: DeliveredMark = { inode: this.live.inode, offset: this.live.offset };
    if (this.rotated) mark.rotated = { inode: this.rotated.inode, offset: this.rotated.offset };
    try {
      writeFileAtomic(this.files.deliveredOffset, JSON.stringify(mark));
    } catch {
      // without the mark a restarted extension resends; the server dedupes by id
    }
  }

  /**
   * Renames a fully delivered, large live file away. The agent opens events.ndjson for each line
   * (O_APPEND, create), so its next line starts a fresh file; a line whose open came just before
   * the rename lands in the rotated file, which is why that one is drained until it stays quiet.
   */
  private rotateIfDue(): void {
    if (this.limits.rotateBytes <= 0 || this.rotated) return;
    const stat = this.statLive();
    if (!stat || stat.size <= this.limits.rotateBytes || stat.size !== this.live.offset) return;
    if (statIfPresent(this.rotatedPath)) return;
    try {
      fs.renameSync(this.files.events, this.rotatedPath);
    } catch {
      return; // not rotated this time; the next commit tries again
    }
    this.rotated = this.rotatedState({ inode: stat.ino, offset: this.live.offset });
    this.live = { inode: -1, offset: 0 };
    this.writeMark();
  }

  /** Deletes the rotated file once delivered and unchanged for the grace period. */
  private retireRotatedIfQuiet(size: number): void {
    const rotated = this.rotated;
    if (!rotated || size !== rotated.offset) return;
    const now = this.now();
    if (size !== rotated.lastSize) {
      rotated.lastSize = size;
      rotated.unchangedSince = now;
      return;
    }
    if (now - rotated.unchangedSince < this.limits.rotateGraceMs) return;
    try {
      fs.unlinkSync(this.rotatedPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return; // try again later
    }
    this.rotated = undefined;
    this.writeMark();
  }

  private statLive(): fs.Stats | undefined {
    const stat = statIfPresent(this.files.events);
    if (!stat) return undefined;
    // A different file (recreated) or a shorter one (truncated) starts over from its beginning.
    if (stat.ino !== this.live.inode || stat.size < this.live.offset) {
      this.live = { inode: stat.ino, offset: 0 };
    }
    return stat;
  }

  private statRotated(): fs.Stats | undefined {
    const stat = statIfPresent(this.rotatedPath);
    if (!stat) {
      // deleted behind our back: nothing more to read from it
      this.rotated = undefined;
      this.writeMark();
      return undefined;
    }
    if (this.rotated && (stat.ino !== this.rotated.inode || stat.size < this.rotated.offset)) {
      this.rotated = this.rotatedState({ inode: stat.ino, offset: 0 });
    }
    return stat;
  }

  private readFrom(
    kind: SpoolFileKind,
    path: string,
    position: FilePosition,
    size: number,
  ): EventBatch | undefined {
    if (size <= position.offset) return undefined;
    if (size - position.offset > this.limits.maxSpoolBytes)
      this.dropOldest(kind, path, position, size - this.limits.maxSpoolBytes);

    let fd: number;
    try {
      fd = fs.openSync(path, 'r');
    } catch {
      return undefined; // rotated or deleted between the stat and the open: the next read sees it
    }
    try {
      const events: Record<string, unknown>[] = [];
      let offset = position.offset;
      let scanned = 0;
      const buffer = Buffer.allocUnsafe(Math.min(this.limits.maxBatchBytes, Math.max(0, size - offset)));
      const bytesRead = fs.readSync(fd, buffer, 0, buffer.length, offset);
      let lineStart = 0;
      let unreadable = 0;
      while (events.length < this.limits.maxBatchEvents) {
        const newline = buffer.indexOf(NEWLINE, lineStart);
        if (newline < 0 || newline >= bytesRead) break;
        const event = parseEventLine(buffer.subarray(lineStart, newline));
        if (event) events.push(event);
        else if (newline > lineStart) unreadable++;
        lineStart = newline + 1;
        scanned = lineStart;
      }
      if (scanned === 0 && bytesRead === this.limits.maxBatchBytes) {
        // One line longer than a whole batch: no request could carry it, so skip it, counted.
        const end = findNewline(fd, offset + bytesRead, size);
        if (end === undefined) return undefined;
        this.dropped++;
        this.commit({ file: kind, endOffset: end + 1 });
        return this.readBatch();
      }
      offset += scanned;
      if (scanned === 0) return undefined;
      if (events.length === 0) {
        // only unreadable lines: nothing to send, move past them
        this.commit({ file: kind, endOffset: offset, unreadable });
        return this.readBatch();
      }
      return { events, file: kind, endOffset: offset, unreadable };
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Skips whole lines until at least `targetOffset`, counting them as dropped. */
  private dropOldest(kind: SpoolFileKind, path: string, position: FilePosition, targetOffset: number): void {
    const fd = fs.openSync(path, 'r');
    try {
      const chunk = Buffer.allocUnsafe(64 * 1024);
      let scanPosition = position.offset;
      let lineBoundary = position.offset;
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
      this.commit({ file: kind, endOffset: lineBoundary });
    } finally {
      fs.closeSync(fd);
    }
  }
}

function positionOf(value: unknown): FilePosition | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { inode, offset } = value as Partial<FilePosition>;
  return Number.isInteger(inode) && Number.isInteger(offset) && (offset as number) >= 0
    ? { inode: inode as number, offset: offset as number }
    : undefined;
}

function statIfPresent(path: string): fs.Stats | undefined {
  try {
    return fs.statSync(path);
  } catch {
    return undefined;
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
