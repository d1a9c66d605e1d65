import { afterEach, describe, expect, it } from 'vitest';
import { deliver, isPrivateAddress, parseRetryAfter, redactUrl } from '../../../collector/notify/http.js';
import type { OutgoingRequest } from '../../../collector/notify/types.js';
import { startReceiver } from './receiver.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

async function receiver(handler: Parameters<typeof startReceiver>[0]) {
  const r = await startReceiver(handler);
  closers.push(r.close);
  return r;
}

function post(url: string, body = '{"hello":"world"}'): OutgoingRequest {
  return { url, method: 'POST', headers: { 'content-type': 'application/json', 'x-test': '1' }, body };
}

const local = { timeoutMs: 2000, allowPrivateTargets: true };

describe('deliver', () => {
  it('POSTs the body and headers and reports success', async () => {
    const r = await receiver((_req, res) => res.writeHead(204).end());
    const result = await deliver(post(r.url('/hook')), local);
    expect(result).toEqual({ ok: true, status: 204, disable: false });
    expect(r.received).toHaveLength(1);
    expect(r.received[0]!.method).toBe('POST');
    expect(r.received[0]!.path).toBe('/hook');
    expect(r.received[0]!.headers['x-test']).toBe('1');
    expect(JSON.parse(r.received[0]!.body)).toEqual({ hello: 'world' });
  });

  it('times out a receiver that never answers', async () => {
    const r = await receiver(() => {
      /* never respond */
    });
    const started = Date.now();
    const result = await deliver(post(r.url('/slow')), { ...local, timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result.ok).toBe(false);
    expect(result.status).toBe(0);
    expect(result.error?.code).toBe('timeout');
  });

  it('parses Retry-After in seconds and as an HTTP date', async () => {
    const r = await receiver((req, res) => {
      if (req.path === '/seconds') res.writeHead(503, { 'retry-after': '120' }).end();
      else res.writeHead(429, { 'retry-after': 'Fri, 01 May 2026 08:01:30 GMT' }).end();
    });
    const seconds = await deliver(post(r.url('/seconds')), local);
    expect(seconds).toMatchObject({ ok: false, status: 503, retryAfterMs: 120_000, disable: false });
    const date = await deliver(post(r.url('/date')), {
      ...local,
      now: () => Date.parse('2026-05-01T08:00:00Z'),
    });
    expect(date).toMatchObject({ ok: false, status: 429, retryAfterMs: 90_000 });
  });

  it('asks to disable the endpoint on 410 Gone', async () => {
    const r = await receiver((_req, res) => res.writeHead(410).end());
    expect(await deliver(post(r.url('/gone')), local)).toEqual({ ok: false, status: 410, disable: true });
  });

  it('follows a same-host redirect with the same body', async () => {
    const r = await receiver((req, res) => {
      if (req.path === '/old') res.writeHead(308, { location: '/new' }).end();
      else res.writeHead(200).end();
    });
    const result = await deliver(post(r.url('/old')), local);
    expect(result).toMatchObject({ ok: true, status: 200 });
    expect(r.received.map((q) => q.path)).toEqual(['/old', '/new']);
    expect(r.received[1]!.body).toBe('{"hello":"world"}');
  });

  it('refuses a redirect to another host and never contacts it', async () => {
    const other = await receiver((_req, res) => res.writeHead(200).end());
    const r = await receiver((_req, res) =>
      res.writeHead(302, { location: other.url('/steal?token=abc') }).end(),
    );
    const result = await deliver(post(r.url('/hook')), local);
    expect(result.ok).toBe(false);
    expect(result.status).toBe(302);
    expect(result.error?.code).toBe('redirect_refused');
    expect(result.error?.message).not.toContain('token=abc');
    expect(other.received).toHaveLength(0);
  });

  it('stops after too many redirects', async () => {
    const r = await receiver((_req, res) => res.writeHead(307, { location: '/loop' }).end());
    const result = await deliver(post(r.url('/loop')), { ...local, maxRedirects: 2 });
    expect(result.error?.code).toBe('too_many_redirects');
    expect(r.received).toHaveLength(3);
  });

  it('refuses loopback targets unless private targets are allowed (SSRF guard)', async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end());
    for (const url of [
      r.url('/services/T0/B0/SECRET'),
      `http://localhost:${r.port}/x`,
      `http://[::1]:${r.port}/x`,
    ]) {
      const result = await deliver(post(url), { timeoutMs: 2000 });
      expect(result.ok).toBe(false);
      expect(result.error?.code).toBe('blocked_target');
      expect(result.error?.message).not.toContain('SECRET');
    }
    expect(r.received).toHaveLength(0);
  });

  it('rejects non-http URLs', async () => {
    expect((await deliver(post('file:///etc/passwd'), local)).error?.code).toBe('invalid_url');
    expect((await deliver(post('not a url'), local)).error?.code).toBe('invalid_url');
  });
});

describe('address classification', () => {
  it('blocks loopback, private, link-local, unique-local, multicast and unspecified addresses', () => {
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.10',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      'fe80::1',
      'fd12:3456::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
      'garbage',
    ]) {
      expect(isPrivateAddress(address), address).toBe(true);
    }
  });

  it('allows public unicast addresses', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
      expect(isPrivateAddress(address), address).toBe(false);
    }
  });
});

describe('helpers', () => {
  it('redacts credentials in webhook URLs', () => {
    expect(redactUrl('https://hooks.slack.com/services/T000/B000/XXXXSECRET')).toBe(
      'https://hooks.slack.com/[redacted]',
    );
    expect(
      redactUrl(
        'https://prod-1.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=SECRET',
      ),
    ).toBe('https://prod-1.westeurope.logic.azure.com/[redacted]?[redacted]');
    expect(redactUrl('https://user:pass@example.com/')).toBe('https://example.com/');
    expect(redactUrl('::')).toBe('[invalid url]');
  });

  it('parses Retry-After values and ignores garbage', () => {
    const now = Date.parse('2026-05-01T08:00:00Z');
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 30 ', now)).toBe(30_000);
    expect(parseRetryAfter('Fri, 01 May 2026 07:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('999999999', now)).toBe(24 * 3_600_000);
  });
});
