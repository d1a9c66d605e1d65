// Helpers for console tests in a real browser: Debian's chromium driven by playwright-core,
// console users with passwords, login, axe-core run inside the page, screenshots to artifacts/.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { repoRoot } from '../helpers/processes.js';

export const CHROMIUM = '/usr/bin/chromium';
export const chromiumPresent = existsSync(CHROMIUM);
/** In CI a missing browser fails the run instead of skipping it. */
export const skipWithoutBrowser = !chromiumPresent && !process.env.CI;
if (skipWithoutBrowser) console.warn(`console browser tests skipped: ${CHROMIUM} is missing`);

export const ARTIFACTS = join(repoRoot, 'artifacts', 'console');
const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

export const PASSWORD = 'correct horse battery staple';

export const consoleUsers = {
  viewer: 'vera.viewer',
  analyst: 'ann.analyst',
  incident_manager: 'ivan.manager',
  admin: 'ada.admin',
} as const;

/** Creates one user per role with PASSWORD, through the users API. */
export async function createConsoleUsers(baseUrl: string, adminToken: string): Promise<void> {
  for (const [role, username] of Object.entries(consoleUsers)) {
    const res = await fetch(`${baseUrl}/api/v1/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ username, role, password: PASSWORD }),
    });
    if (res.status !== 201) throw new Error(`creating ${username}: ${res.status} ${await res.text()}`);
  }
}

/** Everything the page reported as an error: console errors, uncaught exceptions, CSP refusals. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`page: ${error.message}`));
  return errors;
}

export async function login(page: Page, baseUrl: string, username: string): Promise<void> {
  await page.goto(`${baseUrl}/console/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(/\/console\/alerts/);
}

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[] }>;
}

const axeSource = readFileSync(axePath, 'utf8');

/**
 * Runs axe-core in the page; returns the serious and critical violations. The console's CSP
 * rightly blocks `page.addScriptTag` (an inline script), so axe is evaluated through the
 * DevTools protocol instead, which CSP does not govern.
 */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axeSource);
  const violations = (await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: { run: (ctx: unknown, opts: unknown) => Promise<{ violations: unknown[] }> };
      }
    ).axe;
    const result = await axe.run((globalThis as unknown as { document: unknown }).document, {
      resultTypes: ['violations'],
    });
    return result.violations;
  })) as AxeViolation[];
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Screenshot into artifacts/console, then the page must pass axe and have reported no errors. */
export async function checkPage(page: Page, name: string, errors: string[]): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const violations = await seriousAxeViolations(page);
  expect(
    violations.map(
      (v) => `${v.id} (${v.impact}): ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`,
    ),
    `${name}: axe`,
  ).toEqual([]);
  expect(errors, `${name}: browser errors`).toEqual([]);
}

/** The CSRF token of the first console form on the page. */
export const csrfTokenOf = (page: Page): Promise<string> =>
  page.locator('input[name="_csrf"]').first().inputValue();
