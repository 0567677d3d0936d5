import type { Locator, Page } from 'playwright-core';
import { expect, vi } from 'vitest';

// playwright-core has no assertion library (that is @playwright/test), so these retry vitest
// assertions until they pass or time out, like Playwright's web-first assertions do.

const TIMEOUT_MS = 10_000;

function eventually(assertion: () => Promise<void>): Promise<void> {
  return vi.waitFor(assertion, { timeout: TIMEOUT_MS, interval: 100 });
}

function matches(actual: string, expected: string | RegExp): boolean {
  return typeof expected === 'string' ? actual === expected : expected.test(actual);
}

export function see(locator: Locator) {
  return {
    toBeVisible: () => locator.first().waitFor({ state: 'visible', timeout: TIMEOUT_MS }),
    toBeHidden: () => locator.first().waitFor({ state: 'hidden', timeout: TIMEOUT_MS }),
    toHaveText: (expected: string | RegExp) =>
      eventually(async () => {
        const text = ((await locator.textContent()) ?? '').trim();
        expect(matches(text, expected), `text ${JSON.stringify(text)} should match ${expected}`).toBe(true);
      }),
    toContainText: (expected: string | RegExp) =>
      eventually(async () => {
        const texts = await locator.allInnerTexts();
        expect(
          texts.some((text) =>
            typeof expected === 'string' ? text.includes(expected) : expected.test(text),
          ),
          `${JSON.stringify(texts)} should contain ${expected}`,
        ).toBe(true);
      }),
    toHaveAttribute: (name: string, value: string) =>
      eventually(async () => expect(await locator.getAttribute(name)).toBe(value)),
    notToHaveAttribute: (name: string, value: string) =>
      eventually(async () => expect(await locator.getAttribute(name)).not.toBe(value)),
    toBeChecked: () => eventually(async () => expect(await locator.isChecked()).toBe(true)),
    toBeDisabled: () => eventually(async () => expect(await locator.isDisabled()).toBe(true)),
    toHaveValue: (value: string) => eventually(async () => expect(await locator.inputValue()).toBe(value)),
    toHaveCount: (count: number) => eventually(async () => expect(await locator.count()).toBe(count)),
    toBeFocused: () =>
      eventually(async () =>
        expect(await locator.evaluate((element) => element === document.activeElement)).toBe(true),
      ),
  };
}

export function seePage(page: Page) {
  return {
    toHaveURL: (pattern: RegExp) => eventually(async () => expect(page.url()).toMatch(pattern)),
    notToHaveURL: (pattern: RegExp) => eventually(async () => expect(page.url()).not.toMatch(pattern)),
  };
}
