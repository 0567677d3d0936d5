import { describe, expect, it } from 'vitest';
import { isGovernedPath, isUnderDirectory, normalizeAbsolutePath, toAbsolutePath } from './paths.js';

describe('toAbsolutePath', () => {
  it.each<[string, string | Uint8Array | URL, string, string | null]>([
    // absolute and traversal
    ['absolute', '/tmp/a', '/var/task', '/tmp/a'],
    ['traversal', '/tmp/../etc/passwd', '/var/task', '/etc/passwd'],
    ['traversal above root', '/../../etc/passwd', '/var/task', '/etc/passwd'],
    ['dot segments and double slashes', '/tmp/./a//b/', '/var/task', '/tmp/a/b'],
    ['root', '/', '/var/task', '/'],
    // relative, against cwd
    ['relative', 'data/x.json', '/var/task', '/var/task/data/x.json'],
    ['relative traversal', '../../tmp/x', '/var/task', '/tmp/x'],
    ['dot', '.', '/var/task', '/var/task'],
    ['cwd with trailing slash', 'x', '/var/task/', '/var/task/x'],
    // Buffers and Uint8Arrays
    ['Buffer', Buffer.from('/tmp/x/../y'), '/', '/tmp/y'],
    ['relative Buffer', Buffer.from('../x'), '/var/task', '/var/x'],
    ['Uint8Array', new TextEncoder().encode('/tmp/ü'), '/', '/tmp/ü'],
    [
      'Buffer with invalid UTF-8 keeps its directory',
      Buffer.from([0x2f, 0x74, 0x6d, 0x70, 0x2f, 0xff]),
      '/',
      '/tmp/\ufffd',
    ],
    // URL objects
    ['file URL', new URL('file:///tmp/a%20b/../c'), '/', '/tmp/c'],
    ['file URL with encoded characters', new URL('file:///tmp/%C3%BC'), '/', '/tmp/ü'],
    ['file URL with localhost', new URL('file://localhost/tmp/x'), '/', '/tmp/x'],
    // strings are literal paths, as in Node's fs
    ['string that looks like a file URL', 'file:///etc/passwd', '/var/task', '/var/task/file:/etc/passwd'],
    // nothing a file could be named by
    ['empty string', '', '/var/task', null],
    ['NUL in string', '/tmp/a\u0000b', '/', null],
    ['NUL in Buffer', Buffer.from('/tmp/a\u0000b'), '/', null],
    ['http URL', new URL('http://example.com/tmp/x'), '/', null],
    ['file URL with a host', new URL('file://server/share/x'), '/', null],
    ['file URL with encoded slash', new URL('file:///tmp/a%2Fb'), '/', null],
    ['relative with relative cwd', 'x', 'var/task', null],
  ])('%s', (_label, input, cwd, expected) => {
    expect(toAbsolutePath(input, cwd)).toBe(expected);
  });

  it.each([
    ['file:///tmp/a%20b', '/tmp/a b'],
    ['file:///tmp/x/../y', '/tmp/y'],
    ['file://host/x', null],
    ['/tmp/plain', '/tmp/plain'],
  ])('reads %s as a file URL string when asked (module loading)', (input, expected) => {
    expect(toAbsolutePath(input, '/', { fileUrlStrings: true })).toBe(expected);
  });

  it('accepts URL-like objects from another realm', () => {
    const foreign = { href: 'file:///tmp/x', protocol: 'file:' } as unknown as URL;
    expect(toAbsolutePath(foreign, '/')).toBe('/tmp/x');
  });

  it('returns null for values fs would reject', () => {
    expect(toAbsolutePath(42 as unknown as string, '/')).toBeNull();
  });
});

describe('normalizeAbsolutePath', () => {
  it.each([
    ['/a/b', '/a/b'],
    ['/a/b/', '/a/b'],
    ['//a///b', '/a/b'],
    ['/a/./b/../c', '/a/c'],
    ['/a/.hidden', '/a/.hidden'],
    ['/a/..b', '/a/..b'],
    ['/..', '/'],
  ])('%s -> %s', (input, expected) => {
    expect(normalizeAbsolutePath(input)).toBe(expected);
  });
});

describe('isUnderDirectory (path-segment aware)', () => {
  it.each([
    ['/tmp/cache', '/tmp/cache', true],
    ['/tmp/cache/a', '/tmp/cache', true],
    ['/tmp/cache/a', '/tmp/cache/', true],
    ['/tmp/cachex', '/tmp/cache', false],
    ['/tmp/cachex', '/tmp/cache/', false],
    ['/tmp', '/tmp/cache', false],
    ['/anything', '/', true],
  ])('%s under %s -> %s', (path, dir, expected) => {
    expect(isUnderDirectory(path, dir)).toBe(expected);
  });
});

describe('isGovernedPath', () => {
  const appDirs = ['/var/task', '/opt/app/'];
  it.each([
    ['/tmp', true],
    ['/tmp/x', true],
    ['/var/task', true],
    ['/var/task/index.js', true],
    ['/opt/app/lib/a.js', true],
    ['/tmpfoo', false],
    ['/var/taskforce/x', false],
    ['/etc/passwd', false],
    ['/proc/self/environ', false],
    ['/opt/nodejs/node_modules/x.js', false],
  ])('%s -> %s', (path, expected) => {
    expect(isGovernedPath(path, appDirs)).toBe(expected);
  });
});
