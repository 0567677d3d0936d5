import { describe, expect, it } from 'vitest';
import { IpNameTable } from './ip-name-table.js';

function tableWithClock(start = 1_000) {
  const clock = { now: start };
  const table = new IpNameTable({ now: () => clock.now });
  return { clock, table };
}

describe('IpNameTable', () => {
  it('maps an address back to the names it was resolved from, until the TTL expires', () => {
    const { clock, table } = tableWithClock();
    table.learn('52.1.2.3', ['api.stripe.com', 'stripe.com'], 60_000);

    expect(table.namesFor('52.1.2.3')).toEqual(['api.stripe.com', 'stripe.com']);
    clock.now += 59_999;
    expect(table.namesFor('52.1.2.3')).toEqual(['api.stripe.com', 'stripe.com']);
    clock.now += 1;
    expect(table.namesFor('52.1.2.3')).toEqual([]);
  });

  it('keeps a separate expiry per name; a new answer replaces the old expiry', () => {
    const { clock, table } = tableWithClock();
    table.learn('52.1.2.3', ['a.example.com'], 10_000);
    table.learn('52.1.2.3', ['b.example.com'], 30_000);
    clock.now += 20_000;
    expect(table.namesFor('52.1.2.3')).toEqual(['b.example.com']);
    table.learn('52.1.2.3', ['b.example.com'], 1_000);
    clock.now += 1_000;
    expect(table.namesFor('52.1.2.3')).toEqual([]);
  });

  it.each([
    ['2130706433', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['[::ffff:7f00:1]', '127.0.0.1'],
    ['127.0.0.1', '0177.0.0.1'],
    ['[2001:DB8::1]', '2001:db8:0:0:0:0:0:1'],
  ])('treats every spelling of one address alike: learn %s, ask %s', (learned, asked) => {
    const { table } = tableWithClock();
    table.learn(learned, ['svc.example.com'], 1_000);
    expect(table.namesFor(asked)).toEqual(['svc.example.com']);
  });

  it('normalises the names and skips ones that are no host names', () => {
    const { table } = tableWithClock();
    table.learn('10.0.0.1', ['API.Example.COM.', 'bad name', '10.0.0.2', 'bücher.de'], 1_000);
    expect(table.namesFor('10.0.0.1')).toEqual(['api.example.com', 'xn--bcher-kva.de']);
  });

  it.each([['not-an-ip'], ['example.com'], ['']])('refuses to learn %j as an address', (ip) => {
    const { table } = tableWithClock();
    expect(() => table.learn(ip, ['a.com'], 1_000)).toThrow(/is not an IP address/);
  });

  it.each([[-1], [Number.NaN], ['60' as unknown as number]])('refuses the TTL %j', (ttl) => {
    const { table } = tableWithClock();
    expect(() => table.learn('10.0.0.1', ['a.com'], ttl)).toThrow(/ttlMs must be a non-negative number/);
  });

  it('changes the generation of an address when it is learned again or dropped', () => {
    const { clock, table } = tableWithClock();
    expect(table.generationOf('10.0.0.1')).toBe(0);
    table.learn('10.0.0.1', ['a.com'], 1_000);
    const first = table.generationOf('10.0.0.1');
    expect(first).toBeGreaterThan(0);
    table.learn('10.0.0.1', ['a.com'], 1_000);
    const second = table.generationOf('10.0.0.1');
    expect(second).not.toBe(first);
    clock.now += 1_000;
    expect(table.entriesFor('10.0.0.1')).toEqual([]);
    expect(table.generationOf('10.0.0.1')).toBe(0);
  });

  it('reports each live name with its expiry time', () => {
    const { table } = tableWithClock(5_000);
    table.learn('10.0.0.1', ['a.com'], 1_000);
    expect(table.entriesFor('10.0.0.1')).toEqual([{ name: 'a.com', expiresAt: 6_000 }]);
  });

  it('holds at most maxEntries addresses, dropping the least recently learned (down to 3/4 of the limit)', () => {
    const table = new IpNameTable({ now: () => 0, maxEntries: 4 });
    for (const last of [1, 2, 3, 4]) table.learn(`10.0.0.${last}`, [`host${last}.com`], 1_000);
    table.learn('10.0.0.1', ['host1.com'], 1_000); // refreshed: now the most recent
    table.learn('10.0.0.5', ['host5.com'], 1_000);
    expect(table.size).toBe(3);
    expect(table.namesFor('10.0.0.2')).toEqual([]);
    expect(table.namesFor('10.0.0.3')).toEqual([]);
    expect(table.namesFor('10.0.0.4')).toEqual(['host4.com']);
    expect(table.namesFor('10.0.0.1')).toEqual(['host1.com']);
    expect(table.namesFor('10.0.0.5')).toEqual(['host5.com']);
  });

  it('drops expired addresses before live ones when over capacity', () => {
    const clock = { now: 0 };
    const table = new IpNameTable({ now: () => clock.now, maxEntries: 4 });
    table.learn('10.0.0.1', ['host1.com'], 10);
    for (const last of [2, 3, 4]) table.learn(`10.0.0.${last}`, [`host${last}.com`], 1_000);
    clock.now = 20;
    table.learn('10.0.0.5', ['host5.com'], 1_000);
    expect(table.size).toBe(3);
    expect([3, 4, 5].map((last) => table.namesFor(`10.0.0.${last}`))).toEqual([
      ['host3.com'],
      ['host4.com'],
      ['host5.com'],
    ]);
    expect(table.namesFor('10.0.0.2')).toEqual([]);
  });

  it.each([[0], [-1], [1.5]])('refuses maxEntries %j', (maxEntries) => {
    expect(() => new IpNameTable({ maxEntries })).toThrow(/maxEntries must be a positive integer/);
  });

  it('uses Date.now by default', () => {
    const table = new IpNameTable();
    const before = Date.now();
    expect(table.now()).toBeGreaterThanOrEqual(before);
  });
});
