import type { Command } from 'commander';
import { apiClientFor } from '../api/api-from-context.js';
import { SseParser } from '../api/sse.js';
import { type CliDeps, type CommandContext, commandContext } from '../context.js';
import { AuthError, CliError, ExitCode, NotFoundError, UnreachableError, UsageError } from '../errors.js';
import { formatEvent, isEvent, type PrintableEvent } from '../local/event-format.js';

export function registerEventsCommand(program: Command, deps: CliDeps): void {
  const events = program
    .command('events')
    .description('events from the control plane')
    .addHelpText(
      'after',
      `
Examples:
  $ appdefender events tail --action deny`,
    );
  events
    .command('tail')
    .description('stream events to the terminal as they happen (Server-Sent Events, reconnects by itself)')
    .option('--function <name>', 'only events of this function')
    .option('--action <action>', 'only observe or deny events')
    .option('--category <category>', 'only network, filesystem or process events')
    .option('--count <n>', 'stop after this many events')
    .addHelpText(
      'after',
      `
Examples:
  $ appdefender events tail
  $ appdefender events tail --function checkout --action deny
  $ appdefender events tail --json | jq .target      # one JSON event per line`,
    )
    .action(async (_options, command: Command) => {
      const ctx = await commandContext(command, deps);
      await tailEvents(ctx);
    });
}

interface TailFilter {
  function?: string;
  action?: string;
  category?: string;
}

function readFilter(ctx: CommandContext): TailFilter {
  const filter: TailFilter = {};
  const action = ctx.options['action'] as string | undefined;
  if (action !== undefined && action !== 'observe' && action !== 'deny') {
    throw new UsageError(`--action must be observe or deny, not "${action}"`);
  }
  const category = ctx.options['category'] as string | undefined;
  if (category !== undefined && !['network', 'filesystem', 'process'].includes(category)) {
    throw new UsageError(`--category must be network, filesystem or process, not "${category}"`);
  }
  if (action) filter.action = action;
  if (category) filter.category = category;
  const fn = ctx.options['function'] as string | undefined;
  if (fn) filter.function = fn;
  return filter;
}

function matches(event: PrintableEvent, filter: TailFilter): boolean {
  return (
    (!filter.action || event.action === filter.action) &&
    (!filter.category || event.category === filter.category) &&
    (!filter.function || event.function === filter.function)
  );
}

async function tailEvents(ctx: CommandContext): Promise<void> {
  const filter = readFilter(ctx);
  const countOption = ctx.options['count'] as string | undefined;
  const maxEvents = countOption === undefined ? Number.POSITIVE_INFINITY : Number(countOption);
  if (countOption !== undefined && (!Number.isInteger(maxEvents) || maxEvents < 1))
    throw new UsageError('--count must be a positive whole number');
  const api = apiClientFor(ctx, { needsToken: true });
  const query = new URLSearchParams(filter as Record<string, string>).toString();
  const path = `/api/v1/events/stream${query ? `?${query}` : ''}`;
  const abort = new AbortController();
  void ctx.deps.waitForInterrupt().then(() => abort.abort());

  let lastEventId: string | undefined;
  let retryMs = 1000;
  let failures = 0;
  let printed = 0;
  let connectedOnce = false;
  while (!abort.signal.aborted && printed < maxEvents) {
    let response: Response;
    try {
      response = await api.send('GET', path, undefined, {
        signal: abort.signal,
        headers: { accept: 'text/event-stream', ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
      });
    } catch (error) {
      if (abort.signal.aborted) break;
      // Never connected: the server is not there, say so. Once streaming, outages are retried.
      if (!connectedOnce && error instanceof UnreachableError) throw error;
      failures += 1;
      ctx.out.info(`connection lost; reconnecting in ${Math.round(backoff(retryMs, failures) / 1000)} s`);
      await ctx.deps.sleep(backoff(retryMs, failures));
      continue;
    }
    if (response.status === 401 || response.status === 403) {
      throw new AuthError(`The control plane refused the event stream (${response.status})`, {
        hint: 'Check the api token (--api-token / ES_API_TOKEN)',
      });
    }
    if (response.status === 404)
      throw new NotFoundError(`${api.baseUrl.origin} has no event stream (${path})`);
    if (!response.ok || !response.body) {
      if (!connectedOnce) {
        throw new CliError(
          'API_ERROR',
          ExitCode.failure,
          `The event stream answered ${response.status}: ${(await response.text()).slice(0, 200)}`,
        );
      }
      failures += 1;
      await ctx.deps.sleep(backoff(retryMs, failures));
      continue;
    }
    // On stderr even with --json, so scripts (and tests) know the stream is live.
    if (!connectedOnce)
      ctx.deps.streams.stderr.write(`Streaming events from ${api.baseUrl.origin} (Ctrl-C to stop)\n`);
    connectedOnce = true;
    failures = 0;
    const parser = new SseParser();
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        for (const message of parser.push(decoder.decode(chunk, { stream: true }))) {
          if (message.retryMs !== undefined) retryMs = message.retryMs;
          if (message.id !== undefined) lastEventId = message.id;
          if (message.event !== 'event' && message.event !== 'message') continue;
          let value: unknown;
          try {
            value = JSON.parse(message.data);
          } catch {
            continue; // not an event: a server keep-alive or a message type we do not know
          }
          if (!isEvent(value) || !matches(value, filter)) continue;
          if (ctx.out.json) ctx.deps.streams.stdout.write(`${JSON.stringify(value)}\n`);
          else ctx.out.line(formatEvent(value, ctx.out.style));
          printed += 1;
          if (printed >= maxEvents) {
            abort.abort();
            break;
          }
        }
        if (printed >= maxEvents) break;
      }
    } catch (error) {
      if (abort.signal.aborted) break;
      ctx.out.info(`stream interrupted (${(error as Error).message}); reconnecting`);
    }
    if (!abort.signal.aborted && printed < maxEvents) await ctx.deps.sleep(backoff(retryMs, failures + 1));
  }
}

function backoff(retryMs: number, failures: number): number {
  return Math.min(retryMs * 2 ** Math.max(0, failures - 1), 30_000);
}
