/** Absolute, lexically normalised path of an fs path argument; null when it cannot name a file. */
export function toAbsolutePath(_input: string | Uint8Array | URL, _cwd: string): string | null {
  throw new Error('not implemented yet');
}

/** Is the path under /tmp or one of the application directories? */
export function isGovernedPath(_absPath: string, _appDirs: readonly string[]): boolean {
  throw new Error('not implemented yet');
}
