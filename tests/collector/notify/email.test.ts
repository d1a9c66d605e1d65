import { afterEach, describe, expect, it } from 'vitest';
import { assertPublicSmtpHost, buildEmail, sendEmail } from '../../../collector/notify/email.js';
import { sampleTrigger } from './fixtures.js';
import { startSmtpServer } from './smtp.js';

const servers: { close: () => Promise<void> }[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()!.close();
});

async function startSmtp(options: { rejectRecipient?: boolean } = {}) {
  const server = await startSmtpServer(options);
  servers.push(server);
  return server;
}

/** Minimal MIME reader: top-level headers plus decoded parts of a multipart/alternative body. */
function parseMessage(raw: string) {
  const [head, ...rest] = raw.split(/\r?\n\r?\n/);
  const headers = new Map<string, string>();
  for (const line of head!.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  const boundary = /boundary="?([^";]+)"?/.exec(headers.get('content-type') ?? '')?.[1];
  const body = rest.join('\n\n');
  const parts = new Map<string, string>();
  if (boundary) {
    for (const section of body.split(`--${boundary}`)) {
      const [partHead, ...partBody] = section.split(/\r?\n\r?\n/);
      const type = /content-type:\s*([^;\r\n]+)/i.exec(partHead ?? '')?.[1]?.trim();
      if (!type) continue;
      let content = partBody.join('\n\n');
      if (/quoted-printable/i.test(partHead ?? '')) {
        content = content
          .replace(/=\r?\n/g, '')
          .replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
        content = Buffer.from(content, 'latin1').toString('utf8');
      }
      parts.set(type, content);
    }
  }
  return { headers, parts };
}

describe('email over SMTP', () => {
  it('delivers a text + HTML message that a real SMTP server receives', async () => {
    const smtp = await startSmtp();
    const message = buildEmail(sampleTrigger(), {
      from: 'vigil@example.com',
      to: ['soc@example.com', 'dpo@example.com'],
    });
    const result = await sendEmail(
      { host: '127.0.0.1', port: smtp.port, secure: false, ignoreTls: true },
      message,
      { timeoutMs: 5000, allowPrivateTargets: true },
    );
    expect(result.ok).toBe(true);
    expect(result.messageId).toMatch(/@/);

    expect(smtp.received).toHaveLength(1);
    const got = smtp.received[0]!;
    expect(got.from).toBe('vigil@example.com');
    expect(got.to).toEqual(['soc@example.com', 'dpo@example.com']);
    const parsed = parseMessage(got.raw);
    expect(parsed.headers.get('subject')).toBe(
      '[Vigil high] Incident opened: Packet sniffer on workstation CC-0142',
    );
    expect(parsed.headers.get('content-type')).toMatch(/multipart\/alternative/);
    const text = parsed.parts.get('text/plain')!;
    expect(text).toContain('Severity: high');
    expect(text).toContain('Next deadline: GDPR Art. 33 notice — due 2026-05-04T08:00:00.000Z');
    expect(text).toContain('Open the incident: https://vigil.example.com/incidents/inc_42');
    const html = parsed.parts.get('text/html')!;
    expect(html).toContain('&lt;b&gt;unencrypted&lt;/b&gt; &amp; exfiltrated');
    expect(html).not.toContain('<b>unencrypted');
    expect(html).toContain('<a href="https://vigil.example.com/incidents/inc_42">');
  });

  it('reports a 5xx rejection as permanent', async () => {
    const smtp = await startSmtp({ rejectRecipient: true });
    const message = buildEmail(sampleTrigger(), { from: 'vigil@example.com', to: ['nobody@example.com'] });
    const result = await sendEmail(
      { host: '127.0.0.1', port: smtp.port, secure: false, ignoreTls: true },
      message,
      { timeoutMs: 5000, allowPrivateTargets: true },
    );
    expect(result.ok).toBe(false);
    expect(result.permanent).toBe(true);
    expect(smtp.received).toHaveLength(0);
  });

  it('reports a refused connection as a temporary failure', async () => {
    const smtp = await startSmtp();
    const port = smtp.port;
    await servers.pop()!.close();
    const message = buildEmail(sampleTrigger(), { from: 'vigil@example.com', to: ['soc@example.com'] });
    const result = await sendEmail({ host: '127.0.0.1', port, secure: false, ignoreTls: true }, message, {
      timeoutMs: 2000,
      allowPrivateTargets: true,
    });
    expect(result.ok).toBe(false);
    expect(result.permanent).toBe(false);
    expect(result.error?.code).toBeDefined();
  });

  it('refuses a loopback or private SMTP host unless private targets are allowed (SSRF)', async () => {
    const smtp = await startSmtp();
    const message = buildEmail(sampleTrigger(), { from: 'vigil@example.com', to: ['soc@example.com'] });
    for (const host of ['127.0.0.1', 'localhost', '[::1]', '10.1.2.3']) {
      const result = await sendEmail({ host, port: smtp.port, secure: false, ignoreTls: true }, message, {
        timeoutMs: 2000,
      });
      expect(result).toMatchObject({ ok: false, permanent: true, error: { code: 'blocked_target' } });
    }
    expect(smtp.received).toHaveLength(0);
    await expect(assertPublicSmtpHost('localhost')).rejects.toThrow(/non-public/);
    await expect(assertPublicSmtpHost('93.184.215.14')).resolves.toBe('93.184.215.14');
  });

  it('keeps CR/LF out of the subject and needs a recipient', () => {
    const trigger = sampleTrigger();
    trigger.incident.title = 'Hi\r\nBcc: attacker@example.com';
    expect(buildEmail(trigger, { from: 'a@example.com', to: ['b@example.com'] }).subject).not.toMatch(
      /[\r\n]/,
    );
    expect(() => buildEmail(trigger, { from: 'a@example.com', to: [] })).toThrow(/recipient/);
  });
});
