/**
 * The extension's own log lines. Lambda sends an extension's stdout/stderr to the function's
 * CloudWatch log stream; the prefix keeps them apart from the agent's JSON event lines.
 */
export type LogLine = (message: string) => void;

export const logToStderr: LogLine = (message) => {
  try {
    process.stderr.write(`[appdefender] extension: ${message}\n`);
  } catch {
    // stderr closed: nothing left to tell
  }
};
