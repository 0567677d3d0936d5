import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** An X-Ray trace header as Lambda passes it in `Lambda-Runtime-Trace-Id` (tracing not sampled). */
export function newTraceId(): string {
  const epochHex = Math.floor(Date.now() / 1000).toString(16);
  return `Root=1-${epochHex}-${randomBytes(12).toString('hex')};Parent=${randomBytes(8).toString('hex')};Sampled=0`;
}

/** The `tracing` object of INVOKE events and telemetry records. */
export function tracingOf(traceId: string): { type: 'X-Amzn-Trace-Id'; value: string } {
  return { type: 'X-Amzn-Trace-Id', value: traceId };
}

export function functionArn(region: string, accountId: string, functionName: string): string {
  return `arn:aws:lambda:${region}:${accountId}:function:${functionName}`;
}

/** Memory figures of one process from /proc (Linux), in kB; undefined when it is gone. */
export function readProcessMemory(pid: number): { rssKb: number; peakRssKb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): number =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { rssKb: field('VmRSS'), peakRssKb: field('VmHWM') };
  } catch {
    return undefined;
  }
}

const round2 = (ms: number): string => ms.toFixed(2);

/** The REPORT line Lambda writes to the function's log after each invocation. */
export function reportLine(report: {
  requestId: string;
  durationMs: number;
  memoryMb: number;
  maxMemoryUsedMb: number;
  initDurationMs: number | undefined;
  status: string;
}): string {
  const parts = [
    `REPORT RequestId: ${report.requestId}`,
    `Duration: ${round2(report.durationMs)} ms`,
    `Billed Duration: ${Math.ceil(report.durationMs)} ms`,
    `Memory Size: ${report.memoryMb} MB`,
    `Max Memory Used: ${report.maxMemoryUsedMb} MB`,
  ];
  if (report.initDurationMs !== undefined) parts.push(`Init Duration: ${round2(report.initDurationMs)} ms`);
  if (report.status !== 'success' && report.status !== 'error') parts.push(`Status: ${report.status}`);
  return parts.join('\t');
}
