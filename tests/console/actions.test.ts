// Console actions through the real server as a browser sends them: cookie session from the login
// form, HTML form posts carrying the CSRF token, redirects read back. Covers closing with a reason,
// exceptions, approving an executable, assigning (one and many), opening an incident from several
// alerts, sorting and filtering kept in the URL, the pager, the fleet pager and filters, the policy
// editor's web categories, rule enable/disable and upload, the process chain of a capture alert,
// the audit trail without page views, a web-visit alert, and the live event stream (also that an
// open stream does not keep the server from closing).
import { v7 as uuidv7 } from 'uuid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollAgent, packetSocketEvent, TestAgent } from '../helpers/agent-client.js';
import { ADMIN_TOKEN, adminApi, type RunningCollector, startCollector } from '../helpers/collector.js';
import { engines } from '../helpers/db.js';
import { consoleUsers, createConsoleUsers, PASSWORD } from './browser.js';

const PACKET_SOCKET_RULE = '5606f9b5-74cb-40db-865f-a2156999adae';
const WEBMAIL_RULE = '418d209c-8ead-4e67-ac40-ec2b85f0f655';

/** A browser's worth of cookie handling, enough for the console. */
class ConsoleClient {
  readonly cookies = new Map<string, string>();
  csrf = '';
  constructor(readonly base: string) {}

  private keep(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(';')[0]!;
      const at = pair.indexOf('=');
      const [name, value] = [pair.slice(0, at), pair.slice(at + 1)];
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  private get cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async get(path: string, headers: Record<string, string> = {}) {
    const res = await fetch(`${this.base}${path}`, {
      headers: { cookie: this.cookieHeader, ...headers },
      redirect: 'manual',
    });
    this.keep(res);
    const html = await res.text();
    const token = html.match(/name="_csrf" value="([^"]+)"/)?.[1];
    if (token) this.csrf = token;
    return { status: res.status, html, location: res.headers.get('location') };
  }

  async post(path: string, form: Record<string, string | string[]>, headers: Record<string, string> = {}) {
    const body = new URLSearchParams({ _csrf: this.csrf });
    for (const [key, value] of Object.entries(form))
      for (const v of Array.isArray(value) ? value : [value]) body.append(key, v);
    const res = await fetch(`${this.base}${path}`, {
      method: 'POST',
      headers: {
        cookie: this.cookieHeader,
        'content-type': 'application/x-www-form-urlencoded',
        ...headers,
      },
      body,
      redirect: 'manual',
    });
    this.keep(res);
    return { status: res.status, location: res.headers.get('location'), text: await res.text(), res };
  }

  /** Logs in through the login form; returns the Set-Cookie lines of the answer. */
  async login(username: string, headers: Record<string, string> = {}): Promise<string[]> {
    await this.get('/console/login', headers);
    const res = await this.post(
      '/console/login',
      { username, password: PASSWORD, next: '/console/alerts' },
      headers,
    );
    if (res.status !== 303) throw new Error(`login ${username}: ${res.status} ${res.text.slice(0, 300)}`);
    return res.res.headers.getSetCookie();
  }

  /** A post that must redirect back with an ok notice; returns the page redirected to. */
  async act(path: string, form: Record<string, string | string[]>) {
    const res = await this.post(path, form);
    expect(res.status, res.text.slice(0, 300)).toBe(303);
    const page = await this.get(res.location!);
    expect(page.html, `notice after ${path} ${JSON.stringify(form)}`).toMatch(/class="flash ok"/);
    return { ...page, location: res.location! };
  }
}

const api = adminApi;

interface ApiAlert {
  id: string;
  ruleId: string;
  status: string;
  statusReason: string | null;
  hostname: string;
  /** The executable, for process and capture rules. */
  entity: string;
  assignee: { id: string; username: string } | null;
}

const rowIds = (html: string) => [...html.matchAll(/<tr data-id="([^"]+)"/g)].map((m) => m[1]!);
const decode = (href: string) => href.replace(/&amp;/g, '&');

describe(`console actions over HTTP (${engines[0]})`, { timeout: 120_000 }, () => {
  let c: RunningCollector;
  let closed = false;
  let agent: TestAgent;
  let agentId: string;
  let seq = 1;
  const users: Record<string, string> = {};
  const t0 = Date.now() - 60_000;
  const at = (ms: number) => new Date(t0 + ms).toISOString();

  async function sendEvents(events: unknown[]) {
    const s = seq++;
    agent.send({ type: 'events', seq: s, events });
    await agent.waitFor((m) => m.type === 'ack' && (m as { seq?: number }).seq === s);
  }
  const alerts = async (query = ''): Promise<ApiAlert[]> =>
    (await api(c, 'GET', `/api/v1/alerts?limit=500${query}`)).alerts;
  const processStart = (
    pid: number,
    ppid: number,
    name: string,
    ms: number,
    extra: Record<string, unknown> = {},
  ) => ({
    id: uuidv7(),
    agentId,
    time: at(ms),
    type: 'process.start',
    data: {
      pid,
      ppid,
      name,
      exe: `/usr/bin/${name}`,
      cmdline: name,
      user: 'carol',
      startTime: at(ms - 100),
      ...extra,
    },
  });

  beforeAll(async () => {
    // No escalation pass during the test: high alerts would be linked to incidents on their own.
    c = await startCollector(engines[0]!, {
      loginRateLimitPerMinute: 1000,
      escalationPollMs: 3_600_000,
    } as never);
    await createConsoleUsers(c.url, ADMIN_TOKEN);
    for (const u of (await api(c, 'GET', '/api/v1/users')).users as Array<{ id: string; username: string }>)
      users[u.username] = u.id;
    // The default group has learnt its baseline: a new executable raises "Unexpected process".
    await c.testDb.db.query(`UPDATE agent_groups SET baseline_learning_days = 0 WHERE id = 'default'`);
    const enrolled = await enrollAgent(c.url);
    agentId = enrolled.agentId;
    agent = await TestAgent.connect(c.wsUrl, enrolled.token, agentId);
    await sendEvents([
      // sshd (50) → bash (100) → tcpdump (200); later pid 100 is reused by `sleep`, which started
      // after tcpdump and must not be taken for its parent.
      processStart(50, 1, 'sshd', 1000),
      processStart(100, 50, 'bash', 2000),
      processStart(200, 100, 'tcpdump', 3000, {
        signer: 'Debian archive signing key',
        sha256: 'a'.repeat(64),
      }),
      processStart(100, 1, 'sleep', 4000),
      {
        ...packetSocketEvent(agentId, { pid: 200, name: 'tcpdump', exe: '/usr/bin/tcpdump' }),
        time: at(5000),
      },
      {
        id: uuidv7(),
        agentId,
        time: at(6000),
        type: 'web.visit',
        data: {
          browser: 'chromium',
          profile: 'Default',
          user: 'carol',
          host: 'mail.proton.me',
          category: 'webmail',
          visitTime: at(5900),
        },
      },
      // 60 more packet-socket holders: enough alerts for a second page of the queue.
      ...Array.from({ length: 60 }, (_, i) =>
        packetSocketEvent(agentId, {
          pid: 10_000 + i,
          name: `sniff${i}`,
          exe: `/opt/sniff${i}`,
          inode: 9000 + i,
        }),
      ),
    ]);
  }, 120_000);

  afterAll(async () => {
    agent?.close();
    if (!closed) await c?.close();
  });

  it('shows a capture alert with the process start, signer and the parent chain (no reused pid)', async () => {
    const capture = (await alerts()).find(
      (a) => a.ruleId === PACKET_SOCKET_RULE && a.entity === '/usr/bin/tcpdump',
    );
    expect(capture).toBeDefined();
    const client = new ConsoleClient(c.url);
    await client.login(consoleUsers.analyst);
    const { html } = await client.get(`/console/alerts/${capture!.id}`);
    expect(html).toContain('Debian archive signing key');
    expect(html).toContain('a'.repeat(64));
    const chain = html.match(/<ol class="chain">([\s\S]*?)<\/ol>/)?.[1] ?? '';
    expect([...chain.matchAll(/\(pid (\d+)\)/g)].map((m) => m[1])).toEqual(['100', '50']);
    expect(chain).toContain('bash');
    expect(chain).not.toContain('sleep');
  });

  it('renders a web-visit alert: browser, host, category, time', async () => {
    const web = (await alerts()).find((a) => a.ruleId === WEBMAIL_RULE);
    expect(web).toBeDefined();
    const client = new ConsoleClient(c.url);
    await client.login(consoleUsers.viewer);
    const { status, html } = await client.get(`/console/alerts/${web!.id}`);
    expect(status).toBe(200);
    const facts = html.match(/<dl class="facts">([\s\S]*?)<\/dl>/)?.[1] ?? '';
    for (const text of ['chromium', 'mail.proton.me', 'webmail', at(5900), 'carol'])
      expect(facts).toContain(text);
  });

  it('keeps evidence reads out of the audit trail and summarises them', async () => {
    const [target] = (await alerts()).filter((a) => a.ruleId === PACKET_SOCKET_RULE);
    const admin = new ConsoleClient(c.url);
    await admin.login(consoleUsers.admin);
    await admin.act(`/console/alerts/${target!.id}/act`, { op: 'comment', text: 'looking' });
    for (let i = 0; i < 60; i++) await admin.get(`/console/alerts/${target!.id}`);
    await admin.act(`/console/alerts/${target!.id}/act`, { op: 'acknowledge' });
    const { html } = await admin.get(`/console/alerts/${target!.id}`);
    const trail = html.match(/<ul class="plain trail">([\s\S]*?)<\/ul>/)?.[1] ?? '';
    expect(trail).not.toContain('alert.evidence_read');
    expect(trail).toContain('alert.transition');
    expect(trail).toContain('alert.comment');
    // 60 views, the page after the comment and after acknowledging, and this one: 63, all recorded.
    const { rows } = await c.testDb.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_log WHERE action = 'alert.evidence_read' AND target_id = $1`,
      [target!.id],
    );
    expect(rows[0]!.n).toBe(63);
    expect(html).toContain(`Evidence viewed 63 times, last by ${consoleUsers.admin}`);
  });

  it('resolves and marks false positive with a reason, creates an exception, approves an executable', async () => {
    const analyst = new ConsoleClient(c.url);
    await analyst.login(consoleUsers.analyst);
    const [one, two, three] = (await alerts('&status=open')).filter((a) => a.ruleId === PACKET_SOCKET_RULE);
    await analyst.act(`/console/alerts/${one!.id}/act`, { op: 'resolve', reason: 'lab machine, expected' });
    await analyst.act(`/console/alerts/${two!.id}/act`, { op: 'false_positive', reason: 'backup agent' });
    const after = await alerts();
    expect(after.find((a) => a.id === one!.id)).toMatchObject({
      status: 'resolved',
      statusReason: 'lab machine, expected',
    });
    expect(after.find((a) => a.id === two!.id)).toMatchObject({
      status: 'false_positive',
      statusReason: 'backup agent',
    });
    // Closing needs its reason.
    const refused = await analyst.post(`/console/alerts/${three!.id}/act`, { op: 'resolve', reason: '' });
    expect((await analyst.get(refused.location!)).html).toMatch(/class="flash error"/);

    await analyst.act(`/console/alerts/${three!.id}/act`, {
      op: 'exception',
      scope: 'agent',
      field: 'exe',
      reason: 'approved monitoring tool',
    });
    const exceptions = (await api(c, 'GET', '/api/v1/exceptions')).exceptions as Array<{
      reason: string;
      agentId: string | null;
      fields: Record<string, string>;
    }>;
    expect(exceptions.find((e) => e.reason === 'approved monitoring tool')).toMatchObject({
      fields: { exe: three!.entity },
    });

    const unexpected = (await alerts()).find((a) => a.ruleId === 'vigil-unexpected-process');
    expect(unexpected, 'an unexpected-process alert').toBeDefined();
    const approved = await analyst.act(`/console/alerts/${unexpected!.id}/act`, {
      op: 'approve',
      reason: 'standard image tool',
    });
    expect(approved.html).toContain('Executable approved');
    const allowlist = (await api(c, 'GET', '/api/v1/groups/default/allowlist')).entries as Array<{
      pathGlob: string | null;
      reason: string;
    }>;
    expect(allowlist.find((e) => e.reason.includes('standard image tool'))?.pathGlob).toBe(
      unexpected!.entity,
    );
    expect((await alerts()).find((a) => a.id === unexpected!.id)?.status).toBe('resolved');
  });

  it('assigns one alert and several, and opens an incident from several', async () => {
    const analyst = new ConsoleClient(c.url);
    await analyst.login(consoleUsers.analyst);
    const open = (await alerts('&status=open')).filter((a) => a.ruleId === PACKET_SOCKET_RULE);
    const analystId = users[consoleUsers.analyst]!;
    await analyst.act(`/console/alerts/${open[0]!.id}/act`, { op: 'assign', assignee: analystId });
    expect((await alerts()).find((a) => a.id === open[0]!.id)?.assignee?.id).toBe(analystId);

    const many = open.slice(1, 4).map((a) => a.id);
    const assigned = await analyst.act('/console/alerts/bulk', {
      ids: many,
      action: 'assign',
      assignee: users[consoleUsers.incident_manager]!,
      return: '/console/alerts?status=open',
    });
    expect(assigned.location).toBe('/console/alerts?status=open');
    expect(assigned.html).toContain('3 alerts assigned');
    for (const id of many)
      expect((await alerts()).find((a) => a.id === id)?.assignee?.username).toBe(
        consoleUsers.incident_manager,
      );

    const manager = new ConsoleClient(c.url);
    await manager.login(consoleUsers.incident_manager);
    // High alerts may have been escalated into an incident already: take ones no incident holds.
    const free = (
      await c.testDb.db.query<{ id: string }>(
        `SELECT id::text FROM alerts WHERE id = ANY($1::uuid[])
            AND id NOT IN (SELECT alert_id FROM incident_alerts)`,
        [open.map((a) => a.id)],
      )
    ).rows.map((r) => r.id);
    expect(free.length).toBeGreaterThanOrEqual(2);
    const incident = await manager.act('/console/alerts/bulk', {
      ids: free.slice(0, 3),
      action: 'incident',
      title: 'Sniffers on the floor',
      return: '/console/alerts',
    });
    const incidentId = incident.location.match(/\/console\/incidents\/([0-9a-f-]{36})$/)?.[1];
    expect(incidentId).toBeDefined();
    const detail = await api(c, 'GET', `/api/v1/incidents/${incidentId}`);
    expect(detail.title).toBe('Sniffers on the floor');
    expect(JSON.stringify(detail)).toContain(free[0]);
  });

  it('sorts by workstation, status and assignee, keeping filters and sort in the URL and pages', async () => {
    const client = new ConsoleClient(c.url);
    await client.login(consoleUsers.viewer);
    const all = await alerts();
    for (const sort of ['status', 'assignee', 'workstation'] as const) {
      for (const order of ['asc', 'desc'] as const) {
        const seen: string[] = [];
        let path: string | undefined = `/console/alerts?sort=${sort}${order === 'asc' ? '&order=asc' : ''}`;
        let pages = 0;
        while (path) {
          const { status, html } = await client.get(path);
          expect(status).toBe(200);
          seen.push(...rowIds(html));
          pages++;
          const next = html.match(/<a href="([^"]+)">Next page<\/a>/)?.[1];
          if (next) {
            expect(decode(next)).toContain(`sort=${sort}`);
            if (order === 'asc') expect(decode(next)).toContain('order=asc');
          }
          path = next && decode(next);
        }
        expect(pages).toBeGreaterThan(1);
        expect(new Set(seen).size).toBe(seen.length);
        expect(seen.length).toBe(all.length);
        const key = (a: ApiAlert) =>
          sort === 'status' ? a.status : sort === 'assignee' ? (a.assignee?.username ?? '') : a.hostname;
        const keys = seen.map((id) => key(all.find((a) => a.id === id)!));
        const sorted = [...keys].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
        expect(keys).toEqual(order === 'asc' ? sorted : sorted.reverse());
      }
    }
    // Filters survive a change of sort (header links) and of page; the filter form keeps the sort.
    const { html } = await client.get('/console/alerts?status=open&level=medium&sort=status&order=asc');
    const header = html.match(/<a href="([^"]+)">Workstation<\/a>/)?.[1];
    expect(decode(header!)).toBe('/console/alerts?status=open&level=medium&sort=workstation');
    expect(html).toContain('<input type="hidden" name="sort" value="status"/>');
    expect(html).toContain('<input type="hidden" name="order" value="asc"/>');
    expect(html).toMatch(/<option value="open" selected/);
    const rows = rowIds(html);
    expect(rows.length).toBeGreaterThan(0);
    for (const id of rows) expect(all.find((a) => a.id === id)?.status).toBe('open');
  });

  it('pages the fleet with filters and says how many of how many', async () => {
    await c.testDb.db.query(
      `INSERT INTO agent_groups (id, name) VALUES ('night', 'Night shift') ON CONFLICT DO NOTHING;`,
    );
    await c.testDb.db.query(
      `INSERT INTO agents (id, group_id, token_hash, hostname, platform, os, agent_version, presence)
       SELECT gen_random_uuid(), CASE WHEN i % 2 = 0 THEN 'night' ELSE 'default' END, md5('fleet' || i),
              'floor-' || lpad(i::text, 3, '0'), 'linux', '{"distro":"Debian","release":"12"}'::jsonb, '1.0.0',
              CASE WHEN i % 3 = 0 THEN 'silent' ELSE 'offline' END
         FROM generate_series(1, 250) i`,
    );
    const client = new ConsoleClient(c.url);
    await client.login(consoleUsers.viewer);
    const first = await client.get('/console/fleet');
    expect(first.html).toContain('Showing 1–100 of 251 agents.');
    const seen: string[] = [];
    let path: string | undefined = '/console/fleet';
    while (path) {
      const { html } = await client.get(path);
      seen.push(...[...html.matchAll(/<td>(floor-\d+|ws-test-\d+)<\/td>/g)].map((m) => m[1]!));
      const next = html.match(/<a href="([^"]+)">Next agents<\/a>/)?.[1];
      path = next && decode(next);
    }
    expect(seen).toHaveLength(251);
    expect(new Set(seen).size).toBe(251);
    const night = await client.get('/console/fleet?group=night&presence=silent');
    // Even i from 1..250 that are multiples of 3: 6, 12, …, 246.
    expect(night.html).toContain('Showing 1–41 of 41 agents matching.');
    const search = await client.get('/console/fleet?q=floor-12');
    expect(search.html).toContain('Showing 1–10 of 10 agents matching.'); // floor-120…129
    expect((await client.get('/console/fleet?q=nothing-like-this')).html).toContain('No agents match.');
  });

  it('saves web categories and allowed domains from the policy editor into the group policy', async () => {
    const admin = new ConsoleClient(c.url);
    await admin.login(consoleUsers.admin);
    const page = await admin.get('/console/fleet');
    for (const category of ['webmail', 'social', 'personal_cloud', 'messaging', 'remote_access'])
      expect(page.html).toContain(`name="webCategories" value="${category}"`);
    const before = (await api(c, 'GET', '/api/v1/groups')).groups.find(
      (g: { id: string }) => g.id === 'default',
    );
    await admin.act('/console/fleet/groups/default/policy', {
      scanIntervalMs: '1500',
      heartbeatIntervalMs: String(before.policy.heartbeatIntervalMs),
      sensors: ['process', 'capture', 'web'],
      privacyLevel: 'standard',
      webCategories: ['webmail', 'personal_cloud', 'made-up'],
      allowedDomains: 'mail.example.com\r\n  drive.example.org \r\n',
      captureFileFolders: '',
    });
    const after = (await api(c, 'GET', '/api/v1/groups')).groups.find(
      (g: { id: string }) => g.id === 'default',
    );
    expect(after.policy.web.categories).toEqual(['webmail', 'personal_cloud']);
    expect(after.policy.web.allowedDomains).toEqual(['mail.example.com', 'drive.example.org']);
    expect(after.policy.scanIntervalMs).toBe(1500);
    expect(after.policy.sensors).toMatchObject({
      process: true,
      capture: true,
      captureFiles: false,
      web: true,
    });
    // The editor shows what was saved.
    const again = await admin.get('/console/fleet');
    const editor =
      again.html.match(/action="\/console\/fleet\/groups\/default\/policy"[\s\S]*?<\/form>/)?.[0] ?? '';
    expect(editor).toMatch(/name="webCategories" value="webmail" checked/);
    expect(editor).not.toMatch(/name="webCategories" value="social" checked/);
    expect(editor).toContain('mail.example.com\ndrive.example.org');
  });

  it('disables and enables a rule, and uploads a valid one', async () => {
    const admin = new ConsoleClient(c.url);
    await admin.login(consoleUsers.admin);
    await admin.get('/console/rules');
    const ruleOf = async (id: string) =>
      ((await api(c, 'GET', '/api/v1/rules')).rules as Array<{ id: string; enabled: boolean }>).find(
        (r) => r.id === id,
      );
    await admin.act(`/console/rules/${WEBMAIL_RULE}/disable`, {});
    expect((await ruleOf(WEBMAIL_RULE))?.enabled).toBe(false);
    await admin.act(`/console/rules/${WEBMAIL_RULE}/enable`, {});
    expect((await ruleOf(WEBMAIL_RULE))?.enabled).toBe(true);
    const id = '7b1f3c2d-2222-4333-8444-955566667777';
    const uploaded = await admin.post('/console/rules/workbench', {
      op: 'upload',
      yaml: [
        'title: Console upload test',
        `id: ${id}`,
        'level: low',
        'logsource: { category: packet_capture }',
        'detection:',
        '  sel: { Image|endswith: dumpcap }',
        '  condition: sel',
      ].join('\n'),
    });
    expect(uploaded.status).toBe(303);
    expect((await admin.get(uploaded.location!)).html).toMatch(/class="flash ok"/);
    expect(await ruleOf(id)).toMatchObject({ enabled: true });
  });

  it('streams alert changes to an open queue (SSE), and an open stream does not hold up close', async () => {
    const client = new ConsoleClient(c.url);
    await client.login(consoleUsers.viewer);
    const queue = await client.get('/console/alerts');
    expect(queue.html).toContain('data-live="/console/alerts/events"');
    expect(queue.html).toContain('hx-trigger="vigil-alerts, every 30s"');
    expect(queue.html).toContain('aria-live="polite"');
    const res = await fetch(`${c.url}/console/alerts/events`, {
      headers: { cookie: [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const readUntil = async (pattern: RegExp) => {
      const deadline = Date.now() + 10_000;
      while (!pattern.test(text) && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      return pattern.test(text);
    };
    expect(await readUntil(/retry: \d+/)).toBe(true);
    await sendEvents([
      packetSocketEvent(agentId, { pid: 31337, name: 'ngrep', exe: '/usr/bin/ngrep', inode: 5 }),
    ]);
    expect(await readUntil(/event: alerts\ndata: \{"created":\["[0-9a-f-]{36}"/)).toBe(true);
    // Anonymous streams are refused like any other console route.
    expect((await fetch(`${c.url}/console/alerts/events`)).status).toBe(401);

    // The stream is still open: closing the server must end it rather than wait for it.
    const started = Date.now();
    agent.close();
    await c.close();
    closed = true;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await readUntil(/$^/)).toBe(false); // the stream ended (read returned done)
  });
});

describe(`console behind a trusted proxy (${engines[0]})`, { timeout: 60_000 }, () => {
  let c: RunningCollector;
  beforeAll(async () => {
    c = await startCollector(engines[0]!, { trustProxy: true, loginRateLimitPerMinute: 3 } as never);
    await createConsoleUsers(c.url, ADMIN_TOKEN);
  }, 60_000);
  afterAll(async () => c?.close());

  it('makes the session cookie Secure when X-Forwarded-Proto is https, not otherwise', async () => {
    const https = await new ConsoleClient(c.url).login(consoleUsers.viewer, { 'x-forwarded-proto': 'https' });
    const session = https.find((line) => line.startsWith('vigil_session='));
    expect(session).toMatch(/; Secure/i);
    expect(session).toMatch(/HttpOnly/i);
    const plain = await new ConsoleClient(c.url).login(consoleUsers.viewer);
    expect(plain.find((line) => line.startsWith('vigil_session='))).not.toMatch(/; Secure/i);
  });

  it('keys the login rate limit on X-Forwarded-For', async () => {
    const attempt = (ip: string) =>
      fetch(`${c.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
        body: JSON.stringify({ username: 'nobody', password: 'wrong password 123' }),
      });
    for (let i = 0; i < 3; i++) expect((await attempt('203.0.113.7')).status).toBe(401);
    expect((await attempt('203.0.113.7')).status).toBe(429);
    expect((await attempt('203.0.113.8')).status).toBe(401);
    // The audit log records the forwarded client, not the proxy.
    const { rows } = await c.testDb.db.query<{ ip: string }>(
      `SELECT ip FROM audit_log WHERE action LIKE 'auth.%' ORDER BY id DESC LIMIT 1`,
    );
    expect(rows[0]?.ip).toBe('203.0.113.8');
  });
});
