import type { Writable } from 'node:stream';

/** Where a command writes, and how: colours and spinners only for a person at a terminal. */
export interface Output {
  readonly json: boolean;
  readonly color: boolean;
  /** True when progress may be drawn in place (a TTY, not CI, not --json). */
  readonly interactive: boolean;
  /** Result lines (stdout). */
  line(text?: string): void;
  /** Status, warnings and progress (stderr), so stdout stays parseable. */
  info(text: string): void;
  warn(text: string): void;
  /** Prints a value as one JSON document on stdout. */
  printJson(value: unknown): void;
  /** A spinner for work over a second; plain start/end lines when not interactive. */
  progress(label: string): Progress;
  readonly style: Style;
}

export interface Progress {
  update(label: string): void;
  succeed(label?: string): void;
  fail(label?: string): void;
}

export interface Style {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

export interface OutputStreams {
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
}

const ansi = (open: number, close: number) => (text: string) => `\u001b[${open}m${text}\u001b[${close}m`;

const colored: Style = {
  bold: ansi(1, 22),
  dim: ansi(2, 22),
  red: ansi(31, 39),
  green: ansi(32, 39),
  yellow: ansi(33, 39),
  cyan: ansi(36, 39),
};

const identity = (text: string) => text;
const plain: Style = {
  bold: identity,
  dim: identity,
  red: identity,
  green: identity,
  yellow: identity,
  cyan: identity,
};

const isSet = (value: string | undefined) =>
  value !== undefined && value !== '' && value !== '0' && value !== 'false';

/** Decides colours and interactivity from the streams and the environment (NO_COLOR, CI, FORCE_COLOR). */
export function createOutput(
  streams: OutputStreams,
  env: NodeJS.ProcessEnv,
  options: { json: boolean },
): Output {
  const tty = streams.stderr.isTTY === true;
  const ci = isSet(env['CI']);
  // https://no-color.org: any non-empty NO_COLOR turns colours off.
  const noColor = env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '';
  const color = !noColor && (isSet(env['FORCE_COLOR']) || (tty && !ci));
  const interactive = tty && !ci && !options.json;
  const style = color ? colored : plain;

  const writeErr = (text: string) => streams.stderr.write(`${text}\n`);

  return {
    json: options.json,
    color,
    interactive,
    style,
    line: (text = '') => streams.stdout.write(`${text}\n`),
    info: (text) => {
      if (!options.json) writeErr(text);
    },
    warn: (text) => writeErr(`${style.yellow('warning:')} ${text}`),
    printJson: (value) => streams.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    progress: (label) =>
      interactive
        ? spinner(streams.stderr, style, label)
        : plainProgress(options.json ? () => {} : writeErr, label),
  };
}

function plainProgress(write: (text: string) => void, label: string): Progress {
  let current = label;
  write(`${label} ...`);
  return {
    update: (next) => {
      current = next;
      write(`${next} ...`);
    },
    succeed: (done) => write(`${done ?? current}: done`),
    fail: (failed) => write(`${failed ?? current}: failed`),
  };
}

const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

function spinner(stream: Writable, style: Style, label: string): Progress {
  let current = label;
  let frame = 0;
  const draw = () => {
    stream.write(`\r\u001b[2K${style.cyan(frames[frame % frames.length] ?? '')} ${current}`);
    frame += 1;
  };
  draw();
  const timer = setInterval(draw, 100);
  // A spinner must never keep the process alive on its own.
  timer.unref();
  const finish = (mark: string, text: string) => {
    clearInterval(timer);
    stream.write(`\r\u001b[2K${mark} ${text}\n`);
  };
  return {
    update: (next) => {
      current = next;
    },
    succeed: (done) => finish(style.green('✔'), done ?? current),
    fail: (failed) => finish(style.red('✖'), failed ?? current),
  };
}
