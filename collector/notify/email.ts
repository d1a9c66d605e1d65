import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import nodemailer from 'nodemailer';
import { BlockedTargetError, isPrivateAddress } from './http.js';
import { TRIGGER_HEADLINE, type Trigger } from './types.js';

export interface SmtpConfig {
  host: string;
  port: number;
  /** Implicit TLS (port 465). With false, STARTTLS is used when offered unless `ignoreTls`. */
  secure: boolean;
  /** Refuse to send without STARTTLS (recommended when `secure` is false and auth is used). */
  requireTls?: boolean;
  /** Only for local test relays that offer no TLS at all. */
  ignoreTls?: boolean;
  auth?: { user: string; pass: string };
}

export interface EmailMessage {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
}

export interface EmailResult {
  ok: boolean;
  messageId?: string;
  /** SMTP response code class decides retry: 5xx is permanent. */
  permanent: boolean;
  error?: { code: string; message: string };
}

export class EmailConfigError extends Error {
  readonly code = 'EMAIL_CONFIG_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'EmailConfigError';
  }
}

export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** Strips CR/LF so a crafted incident title cannot inject mail headers through the subject. */
function headerSafe(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').trim();
}

export function buildEmail(trigger: Trigger, addressing: { from: string; to: string[] }): EmailMessage {
  if (addressing.to.length === 0) throw new EmailConfigError('at least one recipient is required');
  const { incident } = trigger;
  const headline = TRIGGER_HEADLINE[trigger.kind];
  const rows: Array<[string, string]> = [
    ['Severity', incident.severity],
    ['Status', incident.status],
    ['Incident', incident.id],
    ['Occurred', trigger.occurredAt.toISOString()],
  ];
  if (incident.nextDeadline) {
    rows.push([
      'Next deadline',
      `${incident.nextDeadline.title} — due ${incident.nextDeadline.dueAt.toISOString()}`,
    ]);
  }
  const text = [
    `${headline}: ${incident.title}`,
    '',
    incident.summary,
    '',
    ...rows.map(([label, value]) => `${label}: ${value}`),
    '',
    `Open the incident: ${incident.url}`,
  ].join('\n');
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif">',
    `<h2>${escapeHtml(headline)}: ${escapeHtml(incident.title)}</h2>`,
    `<p>${escapeHtml(incident.summary)}</p>`,
    '<table>',
    ...rows.map(
      ([label, value]) => `<tr><th align="left">${escapeHtml(label)}</th><td>${escapeHtml(value)}</td></tr>`,
    ),
    '</table>',
    `<p><a href="${escapeHtml(incident.url)}">Open the incident</a></p>`,
    '</body></html>',
  ].join('\n');
  return {
    from: addressing.from,
    to: addressing.to,
    subject: headerSafe(`[Vigil ${incident.severity}] ${headline}: ${incident.title}`),
    text,
    html,
  };
}

/**
 * The SSRF guard of webhooks, for SMTP: resolves the host and refuses it when any address is not
 * public unicast. Returns the address to connect to, so the check and the connection see the same
 * address (no second lookup a rebinding DNS server could answer differently).
 */
export async function assertPublicSmtpHost(host: string): Promise<string> {
  const bare = host.replace(/^\[|\]$/g, '');
  const addresses = isIP(bare)
    ? [bare]
    : (await lookup(bare, { all: true, verbatim: true })).map((a) => a.address);
  if (addresses.length === 0) throw new BlockedTargetError(`${host} resolved to no address`);
  const blocked = addresses.find(isPrivateAddress);
  if (blocked !== undefined)
    throw new BlockedTargetError(`${host} resolves to non-public address ${blocked}`);
  return addresses[0]!;
}

/** Sends one message over SMTP; never throws. Refuses private SMTP hosts unless allowed. */
export async function sendEmail(
  config: SmtpConfig,
  message: EmailMessage,
  options: { timeoutMs: number; allowPrivateTargets?: boolean },
): Promise<EmailResult> {
  let address = config.host;
  if (!options.allowPrivateTargets) {
    try {
      address = await assertPublicSmtpHost(config.host);
    } catch (error) {
      const blocked = error instanceof BlockedTargetError;
      return {
        ok: false,
        // A refused target stays refused; a failed lookup may recover.
        permanent: blocked,
        error: {
          code: blocked ? 'blocked_target' : 'dns_failed',
          message: blocked ? (error as Error).message : `could not resolve ${config.host}`,
        },
      };
    }
  }
  const transport = nodemailer.createTransport({
    host: address,
    // Connecting to the checked address: TLS still verifies the certificate against the host name.
    ...(address !== config.host && !isIP(config.host) && { tls: { servername: config.host } }),
    port: config.port,
    secure: config.secure,
    requireTLS: config.requireTls ?? false,
    ignoreTLS: config.ignoreTls ?? false,
    auth: config.auth,
    connectionTimeout: options.timeoutMs,
    greetingTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs,
  });
  try {
    const info = await transport.sendMail({
      from: message.from,
      to: message.to,
      subject: message.subject,
      text: message.text,
      html: message.html,
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    return { ok: true, messageId: info.messageId, permanent: false };
  } catch (error) {
    const err = error as Error & { code?: string; responseCode?: number };
    const permanent = typeof err.responseCode === 'number' && err.responseCode >= 500;
    return {
      ok: false,
      permanent,
      error: {
        code: err.code ?? 'ESEND',
        message: err.responseCode ? `SMTP ${err.responseCode}` : err.message,
      },
    };
  } finally {
    transport.close();
  }
}
