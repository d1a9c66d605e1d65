import { createHmac } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  generateWebhookSecret,
  signWebhook,
  verifyWebhook,
  WebhookSecretError,
} from '../../../collector/notify/signing.js';

describe('Standard Webhooks signing', () => {
  const secret = generateWebhookSecret();
  const body = JSON.stringify({ type: 'incident.opened', data: { id: 'inc_1' } });

  it('produces headers that the standardwebhooks verifier accepts', () => {
    const headers = signWebhook(secret, 'msg_1', new Date(), body);
    expect(Object.keys(headers).sort()).toEqual(['webhook-id', 'webhook-signature', 'webhook-timestamp']);
    expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
    expect(verifyWebhook(secret, body, { ...headers })).toEqual(JSON.parse(body));
  });

  it('signs "id.timestamp.body" with HMAC-SHA256 of the base64 key', () => {
    const at = new Date('2026-05-01T08:00:00.900Z');
    const headers = signWebhook(secret, 'msg_2', at, body);
    expect(headers['webhook-timestamp']).toBe(String(Math.floor(at.getTime() / 1000)));
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key)
      .update(`msg_2.${headers['webhook-timestamp']}.${body}`)
      .digest('base64');
    expect(headers['webhook-signature']).toBe(`v1,${expected}`);
  });

  it('fails verification for a tampered body, another secret, or a stale timestamp', () => {
    const headers = { ...signWebhook(secret, 'msg_3', new Date(), body) };
    expect(() => new Webhook(secret).verify(`${body} `, headers)).toThrow(WebhookVerificationError);
    expect(() => new Webhook(generateWebhookSecret()).verify(body, headers)).toThrow(
      WebhookVerificationError,
    );
    const stale = { ...signWebhook(secret, 'msg_4', new Date(Date.now() - 10 * 60_000), body) };
    expect(() => new Webhook(secret).verify(body, stale)).toThrow(/too old/);
  });

  it('rejects secrets without the whsec_ prefix or with too little key material', () => {
    expect(() => signWebhook('abc', 'm', new Date(), body)).toThrow(WebhookSecretError);
    expect(() =>
      signWebhook(`whsec_${Buffer.from('short').toString('base64')}`, 'm', new Date(), body),
    ).toThrow(/at least 24 bytes/);
    expect(() => signWebhook(secret, 'has.dot', new Date(), body)).toThrow(/message id/);
  });
});
