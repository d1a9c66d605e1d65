// Every console page in a real browser, for each role: it renders, passes axe-core (no serious or
// critical violations), reports no browser error under the strict CSP; a viewer gets no action
// buttons and a forged POST is refused; a POST without CSRF token is refused.

import type { Browser, BrowserContext, Page } from 'playwright-core';
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollAgent, packetSocketEvent, TestAgent } from '../helpers/agent-client.js';
import { ADMIN_TOKEN, adminApi, type RunningCollector, startCollector } from '../helpers/collector.js';
import { engines } from '../helpers/db.js';
import {
  checkPage,
  consoleUsers,
  createConsoleUsers,
  csrfTokenOf,
  launchBrowser,
  login,
  PASSWORD,
  skipWithoutBrowser,
  watchErrors,
} from './browser.js';

const api = adminApi;

const engine = engines[0]!;

describe.skipIf(skipWithoutBrowser)(`console pages (${engine})`, { timeout: 90_000 }, () => {
  let collector: RunningCollector;
  let browser: Browser;
  let agent: TestAgent;
  let agentId: string;
  let seq = 1;
  let incidentId: string;
  const contexts: BrowserContext[] = [];

  async function pageAs(role: keyof typeof consoleUsers): Promise<{ page: Page; errors: string[] }> {
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    contexts.push(context);
    const page = await context.newPage();
    const errors = watchErrors(page);
    await login(page, collector.url, consoleUsers[role]);
    return { page, errors };
  }

  async function sendEvents(events: unknown[]) {
    const s = seq++;
    agent.send({ type: 'events', seq: s, events });
    await agent.waitFor((m) => m.type === 'ack' && (m as { seq?: number }).seq === s);
  }

  const alertsOf = async (): Promise<
    Array<{ id: string; ruleId: string; status: string; evidence: Record<string, unknown> }>
  > => (await api(collector, 'GET', '/api/v1/alerts?limit=100')).alerts;

  beforeAll(async () => {
    collector = await startCollector(engine);
    await createConsoleUsers(collector.url, ADMIN_TOKEN);
    const enrolled = await enrollAgent(collector.url);
    agentId = enrolled.agentId;
    agent = await TestAgent.connect(collector.wsUrl, enrolled.token, agentId);
    await sendEvents([
      packetSocketEvent(agentId, {
        pid: 4711,
        name: 'tcpdump',
        exe: '/usr/bin/tcpdump',
        interface: 'eth0',
        user: 'mallory <script>x</script>',
      }),
      {
        id: uuidv7(),
        agentId,
        time: new Date().toISOString(),
        type: 'web.visit',
        data: {
          browser: 'firefox',
          profile: 'default',
          user: 'alice',
          host: 'poker.example',
          category: 'gambling',
          visitTime: new Date().toISOString(),
        },
      },
      {
        id: uuidv7(),
        agentId,
        time: new Date().toISOString(),
        type: 'web.visit',
        data: {
          browser: 'chromium',
          profile: 'Default',
          user: 'alice',
          host: 'drive.proton.me',
          category: 'personal_cloud',
          visitTime: new Date().toISOString(),
        },
      },
    ]);
    const incident = await api(collector, 'POST', '/api/v1/incidents', {
      title: 'Card data exposure',
      severity: 'high',
      affectedCounts: { 'us-ca': 1200, 'eu-gdpr': 300 },
    });
    incidentId = incident.id;
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    agent?.close();
    await collector?.close();
  });

  it('logs in, shows every page to an admin without axe violations or browser errors', async () => {
    const { page, errors } = await pageAs('admin');
    await expect.poll(() => page.locator('#alert-rows tr[data-id]').count()).toBeGreaterThan(0);
    // Escaped, not executed: the evidence user carries markup.
    await expect
      .poll(() => page.locator('#alert-rows').first().textContent())
      .toContain('mallory <script>x</script>');
    await checkPage(page, 'alerts-admin', errors);
    const [first] = await alertsOf();
    await page.goto(`${collector.url}/console/alerts/${first!.id}`);
    await expect.poll(() => page.getByRole('heading', { name: 'Evidence' }).isVisible()).toBe(true);
    await checkPage(page, 'alert-detail-admin', errors);
    await page.goto(`${collector.url}/console/incidents`);
    await expect.poll(() => page.getByRole('link', { name: 'Card data exposure' }).isVisible()).toBe(true);
    await checkPage(page, 'incidents', errors);
    await page.goto(`${collector.url}/console/incidents/${incidentId}`);
    await expect.poll(() => page.locator('figure.chart svg rect.bar-high').first().isVisible()).toBe(true);
    await expect.poll(() => page.getByRole('table', { name: 'Checklist' }).isVisible()).toBe(true);
    await checkPage(page, 'incident-detail', errors);
    await page.goto(`${collector.url}/console/fleet`);
    await expect
      .poll(() => page.getByRole('table', { name: 'Agents' }).first().textContent())
      .toContain('ws-test-01');
    await checkPage(page, 'fleet', errors);
    await page.goto(`${collector.url}/console/rules`);
    await expect.poll(() => page.getByRole('table', { name: 'Rules' }).isVisible()).toBe(true);
    await checkPage(page, 'rules', errors);
    await page.goto(`${collector.url}/console/audit`);
    await expect
      .poll(() => page.getByRole('table', { name: 'Audit entries' }).first().textContent())
      .toContain('auth.login');
    await checkPage(page, 'audit', errors);
  });

  it('shows the login page, an error page and a web-visit alert without axe violations or errors', async () => {
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    contexts.push(context);
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${collector.url}/console/login`);
    await checkPage(page, 'login', errors);
    await login(page, collector.url, consoleUsers.analyst);
    const missing = await page.goto(`${collector.url}/console/no-such-page`);
    expect(missing?.status()).toBe(404);
    expect(await page.getByText('No such page.').count()).toBe(1);
    // Chromium reports the 404 document itself as a failed resource; nothing else may appear.
    const notThe404 = errors.filter((e) => !/status of 404/.test(e));
    await checkPage(page, 'error-404', notThe404);
    errors.length = 0;
    const visit = (await alertsOf()).find((a) => JSON.stringify(a).includes('drive.proton.me'));
    expect(visit, 'the personal-cloud visit raised an alert').toBeDefined();
    await page.goto(`${collector.url}/console/alerts/${visit!.id}`);
    const facts = await page.locator('dl.facts').textContent();
    for (const text of ['chromium', 'drive.proton.me', 'personal_cloud', 'alice'])
      expect(facts).toContain(text);
    await checkPage(page, 'alert-detail-web', errors);
  });

  it('sends the strict Content-Security-Policy and session cookie flags', async () => {
    const res = await fetch(`${collector.url}/console/login`);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('content-security-policy')).not.toContain('unsafe-inline');
    const { page } = await pageAs('viewer');
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'vigil_session');
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Strict');
  });

  it('gives a viewer no action buttons and refuses a forged POST with 403', async () => {
    const { page, errors } = await pageAs('viewer');
    await expect.poll(() => page.locator('#alert-rows tr[data-id]').count()).toBeGreaterThan(0);
    await expect.poll(() => page.locator('#bulk-form').count()).toBe(0);
    await expect.poll(() => page.locator('#alert-rows input[type="checkbox"]').count()).toBe(0);
    await checkPage(page, 'alerts-viewer', errors);
    const [first] = await alertsOf();
    await page.goto(`${collector.url}/console/alerts/${first!.id}`);
    await expect.poll(() => page.getByRole('button', { name: 'Acknowledge' }).count()).toBe(0);
    await expect.poll(() => page.getByRole('heading', { name: 'Actions' }).count()).toBe(0);
    await checkPage(page, 'alert-detail-viewer', errors);
    const token = await csrfTokenOf(page);
    const forged = await page.request.post(`${collector.url}/console/alerts/${first!.id}/act`, {
      form: { _csrf: token, op: 'acknowledge' },
      maxRedirects: 0,
    });
    expect(forged.status()).toBe(403);
    expect((await alertsOf()).find((a) => a.id === first!.id)?.status).toBe('open');
    await page.goto(`${collector.url}/console/audit`);
    await expect.poll(() => page.getByRole('heading', { name: 'Not allowed' }).isVisible()).toBe(true);
  });

  it('refuses a POST without CSRF token, accepts the same POST with it', async () => {
    const { page } = await pageAs('analyst');
    const [first] = await alertsOf();
    const without = await page.request.post(`${collector.url}/console/alerts/${first!.id}/act`, {
      form: { op: 'comment', text: 'forged' },
      maxRedirects: 0,
    });
    expect(without.status()).toBe(403);
    await page.goto(`${collector.url}/console/alerts/${first!.id}`);
    await page.getByLabel('Add a comment').fill('checked with the team lead');
    await page.getByRole('button', { name: 'Comment' }).click();
    await expect
      .poll(() => page.locator('.comments').first().textContent())
      .toContain('checked with the team lead');
    await expect.poll(() => page.locator('.comments').textContent()).not.toContain('forged');
  });

  it('lets an analyst walk the queue with j/k/Enter, see a new alert live and acknowledge several', async () => {
    const { page, errors } = await pageAs('analyst');
    const dumpcapAlerts = async () =>
      ((await api(collector, 'GET', '/api/v1/alerts?q=dumpcap')) as { alerts: { id: string }[] }).alerts;
    expect(await dumpcapAlerts()).toEqual([]);
    await sendEvents([
      packetSocketEvent(agentId, {
        pid: 5150,
        name: 'dumpcap',
        exe: '/usr/bin/dumpcap',
        interface: 'eth1',
        inode: 777,
      }),
    ]);
    // Found by its id, not by the number of rows: other alerts (an agent of an earlier test going
    // silent) may arrive meanwhile.
    const [raised] = await dumpcapAlerts();
    expect(raised).toBeDefined();
    await expect
      .poll(() => page.locator(`#alert-rows tr[data-id="${raised!.id}"]`).count(), { timeout: 8000 })
      .toBe(1);
    await page.keyboard.press('j');
    await page.keyboard.press('x');
    await page.keyboard.press('j');
    await page.keyboard.press('x');
    await expect.poll(() => page.locator('#alert-rows input[name="ids"]:checked').count()).toBe(2);
    await page.getByRole('button', { name: 'Acknowledge' }).click();
    await expect.poll(() => page.locator('.flash').first().textContent()).toContain('2 alerts acknowledged');
    await page.keyboard.press('j');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/console\/alerts\/[0-9a-f-]{36}$/);
    await checkPage(page, 'alert-detail-analyst', errors);
  });

  it('shows rule validation errors and runs a rule against recent events', async () => {
    const { page, errors } = await pageAs('admin');
    await page.goto(`${collector.url}/console/rules`);
    await page.getByLabel('Rule (YAML)').fill('title: broken\nlogsource: {}\n');
    await page.getByRole('button', { name: 'Upload rule' }).click();
    await expect.poll(() => page.getByRole('alert').first().textContent()).toContain('Refused');
    await page
      .getByLabel('Rule (YAML)')
      .fill(
        [
          'title: Console test sniffer',
          'id: 5a0e9d1c-1111-4222-8333-944455556666',
          'level: medium',
          'logsource: { category: packet_capture }',
          'detection:',
          '  sel: { Image|endswith: tcpdump }',
          '  condition: sel',
        ].join('\n'),
      );
    await page.getByRole('button', { name: 'Try against recent events' }).click();
    await expect
      .poll(() => page.locator('#bench h3').first().textContent())
      .toMatch(/^1 match in \d+ recent events/);
    expect(await page.getByRole('table', { name: 'Matching events' }).textContent()).toContain('ws-test-01');
    await checkPage(page, 'rules-workbench', errors);
  });

  it('answers an expired session with the login form and a notice, then returns to the page', async () => {
    const { page } = await pageAs('viewer');
    await collector.testDb.db.query(
      `UPDATE sessions SET expires_at = now() - interval '1 second'
        WHERE user_id = (SELECT id FROM users WHERE username = $1)`,
      [consoleUsers.viewer],
    );
    const refused = await page.goto(`${collector.url}/console/incidents`);
    expect(refused?.status()).toBe(401);
    expect(await page.locator('.flash').textContent()).toContain('session has ended');
    // The login form stands in for the page; logging in returns to it.
    await page.getByLabel('Username').fill(consoleUsers.viewer);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${collector.url}/console/incidents`);
    expect(await page.getByRole('heading', { name: 'Incidents' }).count()).toBe(1);
  });

  it('logs out: the cookie no longer opens pages', async () => {
    const { page } = await pageAs('analyst');
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/console\/login/);
    const refused = await page.goto(`${collector.url}/console/alerts`);
    expect(refused?.status()).toBe(401);
    expect(await page.getByRole('heading', { name: 'Log in to Vigil' }).count()).toBe(1);
  });
});
