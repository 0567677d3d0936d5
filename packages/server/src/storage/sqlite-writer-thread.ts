/**
 * The SQLite ingest path, on its own thread. A worker with its own connection to the database
 * file runs the event inserts (one transaction per batch) and the WAL checkpoints, so the event
 * loop keeps parsing and validating the next batches while a batch is written, and the fsyncs of
 * checkpoints never stall it. Other writes (accounts, policy groups, retention) stay on the main
 * connection; WAL and busy_timeout serialise the two writers.
 *
 * An event is reported `accepted` only after the worker committed it.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { EventWriter } from './kysely-storage.js';
import type { EventRow } from './schema.js';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driverPath);
const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('busy_timeout = 5000');
db.pragma('cache_size = -65536');
// This connection checkpoints on a timer instead (PASSIVE never blocks a writer).
db.pragma('wal_autocheckpoint = 0');
const insertOne = db.prepare(
  'INSERT INTO events (account_id, id, batch_id, time_ms, received_ms, category, action, operation, target, ' +
  'policy_group, function_name, terminated, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ' +
  'ON CONFLICT (account_id, id) DO NOTHING');
const insertAll = db.transaction((accountId, batchId, rows, receivedMs) => {
  const inserted = [];
  for (const row of rows) {
    const info = insertOne.run(accountId, row.id, batchId, row.timeMs, receivedMs, row.category, row.action,
      row.operation, row.target, row.policyGroup, row.functionName, row.terminated, row.body);
    if (info.changes === 1) inserted.push({ id: row.id, seq: Number(info.lastInsertRowid) });
  }
  return inserted;
});
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    parentPort.postMessage({ kind: 'error', error: String(error) });
  }
};
const timer = setInterval(checkpoint, workerData.checkpointIntervalMs);
parentPort.on('message', (message) => {
  if (message.kind === 'insert') {
    try {
      const inserted = insertAll(message.accountId, message.batchId, message.rows, message.receivedMs);
      parentPort.postMessage({ kind: 'done', requestId: message.requestId, inserted });
    } catch (error) {
      parentPort.postMessage({ kind: 'failed', requestId: message.requestId, error: String(error && error.message || error) });
    }
  } else if (message.kind === 'stop') {
    clearInterval(timer);
    checkpoint();
    db.close();
    parentPort.postMessage({ kind: 'stopped' });
  }
});
parentPort.postMessage({ kind: 'ready' });
`;

type WorkerReply =
  | { kind: 'ready' }
  | { kind: 'stopped' }
  | { kind: 'error'; error: string }
  | { kind: 'done'; requestId: number; inserted: Array<{ id: string; seq: number }> }
  | { kind: 'failed'; requestId: number; error: string };

export interface SqliteWriterThread extends EventWriter {
  stop(): Promise<void>;
}

export async function startSqliteWriterThread(options: {
  file: string;
  checkpointIntervalMs?: number;
  onError?: (error: unknown) => void;
}): Promise<SqliteWriterThread> {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      file: options.file,
      checkpointIntervalMs: options.checkpointIntervalMs ?? 250,
      driverPath: createRequire(import.meta.url).resolve('better-sqlite3'),
    },
  });
  const pending = new Map<
    number,
    { resolve: (rows: Array<{ id: string; seq: number }>) => void; reject: (e: Error) => void }
  >();
  let nextRequestId = 1;
  let exited: Error | undefined;
  let onStopped: (() => void) | undefined;
  // Only pending inserts keep the process alive, never the idle worker.
  worker.unref();

  await new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (message: WorkerReply) => {
      worker.off('error', reject);
      if (message.kind === 'ready') resolve();
      else reject(new Error(`sqlite writer thread did not start: ${JSON.stringify(message)}`));
    });
  });

  worker.on('message', (message: WorkerReply) => {
    if (message.kind === 'done' || message.kind === 'failed') {
      const entry = pending.get(message.requestId);
      pending.delete(message.requestId);
      if (pending.size === 0) worker.unref();
      if (message.kind === 'done') entry?.resolve(message.inserted);
      else entry?.reject(new Error(`sqlite writer thread: ${message.error}`));
    } else if (message.kind === 'error') {
      options.onError?.(new Error(message.error));
    } else if (message.kind === 'stopped') {
      onStopped?.();
    }
  });
  worker.on('error', (error) => options.onError?.(error));
  worker.on('exit', (code) => {
    exited = new Error(`sqlite writer thread exited (code ${code})`);
    for (const entry of pending.values()) entry.reject(exited);
    pending.clear();
    onStopped?.();
  });

  let stopping: Promise<void> | undefined;
  return {
    insert(accountId: string, batchId: string, rows: EventRow[], receivedMs: number) {
      if (exited) return Promise.reject(exited);
      if (stopping) return Promise.reject(new Error('sqlite writer thread is stopping'));
      const requestId = nextRequestId++;
      if (pending.size === 0) worker.ref();
      return new Promise((resolve, reject) => {
        pending.set(requestId, { resolve, reject });
        worker.postMessage({ kind: 'insert', requestId, accountId, batchId, rows, receivedMs });
      });
    },
    stop() {
      stopping ??= (async () => {
        if (exited) return;
        // Inserts already sent are answered before the worker sees 'stop' (messages are ordered).
        await new Promise<void>((resolve) => {
          onStopped = resolve;
          worker.ref();
          worker.postMessage({ kind: 'stop' });
        });
        await worker.terminate();
      })();
      return stopping;
    },
  };
}
