import { describe, expect, it } from 'vitest';
import { niceMax } from './charts.js';

describe('niceMax', () => {
  it.each([
    [0, 4],
    [3, 4],
    [5, 6],
    [9, 10],
    [13, 20],
    [250, 400],
    [999, 1000],
    [1001, 2000],
  ])('rounds %d up to %d, whose half is whole', (value, expected) => {
    expect(niceMax(value)).toBe(expected);
    expect((niceMax(value) / 2) % 1).toBe(0);
  });
});
