// The console end to end on real parts: a collector and an agent as child processes (PostgreSQL),
// a real tcpdump in a network namespace, Debian's chromium. An incident manager logs in, sees the
// tcpdump alert arrive live in the queue, opens it, acknowledges it, opens an incident from it,
// enters affected people, sees checklist and staffing chart, and the incident.opened trigger
// reaches a local webhook receiver (configured through the notify API).
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable } from '../helpers/db.js';
import { E2E_ADMIN_TOKEN, type E2eStack, startE2eStack } from '../helpers/e2e.js';
import { canUseNetns, createVethPair, hasTool, type VethPair } from '../helpers/netns.js';
import {
  checkPage,
  consoleUsers,
  createConsoleUsers,
  launchBrowser,
  login,
  skipWithoutBrowser,
  watchErrors,
} from './browser.js';

const toolsReady = canUseNetns() && hasTool('tcpdump') && (await postgresAvailable());
if (!toolsReady && process.env.CI)
  throw new Error('the console journey needs network namespaces, tcpdump and PostgreSQL in CI');
const ready = toolsReady && !skipWithoutBrowser;
if (!ready)
  console.warn('console journey skipped: needs chromium, network namespaces, tcpdump and PostgreSQL');

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: { type?: string; data?: { incident?: { id?: string } } } & Record<string, unknown>;
}

describe.skipIf(!ready)(
  'console journey: live tcpdump alert → incident → trigger delivered',
  { timeout: 180_000 },
  () => {
    let veth: VethPair;
    let stack: E2eStack;
    let browser: Browser;
    let receiver: Server;
    const received: Received[] = [];
    const sniffers: ChildProcess[] = [];
    const allowPrivateBefore = process.env.VIGIL_ALLOW_PRIVATE_TARGETS;

    beforeAll(async () => {
      receiver = createServer((req, res) => {
        let text = '';
        req.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        req.on('end', () => {
          received.push({ headers: req.headers, body: JSON.parse(text || '{}') });
          res.writeHead(200).end('ok');
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      veth = createVethPair();
      // The child collector inherits this: its webhook may reach the loopback receiver.
      process.env.VIGIL_ALLOW_PRIVATE_TARGETS = 'true';
      stack = await startE2eStack();
      await createConsoleUsers(stack.base, E2E_ADMIN_TOKEN);
      const port = (receiver.address() as AddressInfo).port;
      const channel = await fetch(`${stack.base}/api/v1/notify/channels`, {
        method: 'POST',
        headers: { authorization: `Bearer ${E2E_ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'local receiver',
          type: 'webhook',
          url: `http://127.0.0.1:${port}/hook`,
        }),
      });
      if (channel.status !== 201) throw new Error(`channel: ${channel.status} ${await channel.text()}`);
      browser = await launchBrowser();
    }, 150_000);

    afterAll(async () => {
      for (const s of sniffers) s.kill('SIGKILL');
      await browser?.close();
      await stack?.stop();
      veth?.remove();
      receiver?.close();
      if (allowPrivateBefore === undefined) delete process.env.VIGIL_ALLOW_PRIVATE_TARGETS;
      else process.env.VIGIL_ALLOW_PRIVATE_TARGETS = allowPrivateBefore;
    });

    it('walks from a live alert to a delivered incident trigger', async () => {
      const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
      const page = await context.newPage();
      const errors = watchErrors(page);
      await login(page, stack.base, consoleUsers.incident_manager);
      await checkPage(page, 'journey-1-queue-before', errors);

      // A real sniffer starts while the queue is open: its alert row appears without a reload.
      const tcpdump = spawn('ip', ['netns', 'exec', veth.namespace, 'tcpdump', '-i', veth.inside, '-n'], {
        stdio: 'ignore',
      });
      sniffers.push(tcpdump);
      const { alert } = await stack.alertMatching(
        `an alert naming pid ${tcpdump.pid}`,
        (a) => a.evidence.pid === tcpdump.pid && a.tags.includes('attack.t1040'),
        15_000,
      );
      const row = page.locator(`#alert-rows tr[data-id="${alert.id}"]`);
      await row.waitFor({ timeout: 10_000 });
      await checkPage(page, 'journey-2-queue-live', errors);

      // Open it.
      await row.locator('a.row-link').click();
      await page.waitForURL(`**/console/alerts/${alert.id}`);
      const evidence = await page.locator('dl.facts').textContent();
      expect(evidence).toContain(String(tcpdump.pid));
      expect(evidence).toMatch(/tcpdump/);
      await checkPage(page, 'journey-3-alert', errors);

      // Acknowledge.
      await page.getByRole('button', { name: 'Acknowledge' }).click();
      await page.waitForURL(`**/console/alerts/${alert.id}`);
      expect(await page.locator('.flash').textContent()).toContain('Alert acknowledged');
      expect(await page.locator('.summary').textContent()).toContain('acknowledged');

      // Open an incident from it.
      await page.getByRole('button', { name: 'Open incident' }).click();
      await page.waitForURL(/\/console\/incidents\/[0-9a-f-]{36}$/);
      const incidentId = page.url().split('/').at(-1)!;
      expect(
        await page.getByRole('table', { name: 'Checklist' }).locator('tbody tr').count(),
      ).toBeGreaterThan(0);
      expect(await page.locator('section[aria-labelledby="alerts-h"]').textContent()).toContain('on ');

      // Affected people start the legal clocks and size the hotline: the staffing chart appears.
      await page.locator('summary', { hasText: 'Edit affected people' }).click();
      await page.locator('input[name="affected.us-ca"]').fill('2500');
      await page.getByRole('button', { name: 'Save affected people' }).click();
      await page.waitForURL(`**/console/incidents/${incidentId}`);
      expect(await page.locator('figure.chart svg rect.bar-high').count()).toBeGreaterThan(0);
      expect(await page.locator('time[data-countdown]').count()).toBeGreaterThan(0);

      // The incident.opened trigger reaches the local receiver; the page lists the delivery.
      const started = Date.now();
      while (
        !received.some((r) => JSON.stringify(r.body).includes(incidentId)) &&
        Date.now() - started < 20_000
      ) {
        await new Promise((r) => setTimeout(r, 200));
      }
      const trigger = received.find((r) => JSON.stringify(r.body).includes(incidentId));
      expect(trigger, 'webhook received the incident trigger').toBeDefined();
      expect(trigger!.headers['webhook-signature']).toBeDefined();
      await page.reload();
      expect(await page.getByRole('table', { name: 'Trigger deliveries' }).textContent()).toContain(
        'delivered',
      );
      await checkPage(page, 'journey-4-incident', errors);
      await context.close();
    });
  },
);
