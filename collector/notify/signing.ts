import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

export class WebhookSecretError extends Error {
  readonly code = 'WEBHOOK_SECRET_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'WebhookSecretError';
  }
}

export interface SignatureHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

const SECRET_PREFIX = 'whsec_';
// Standard Webhooks recommends 24–64 random bytes.
const MIN_SECRET_BYTES = 24;

/** A new `whsec_…` secret (32 random bytes, base64). */
export function generateWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

function webhookFor(secret: string): Webhook {
  if (typeof secret !== 'string' || !secret.startsWith(SECRET_PREFIX)) {
    throw new WebhookSecretError('webhook secret must start with "whsec_"');
  }
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
  if (key.length < MIN_SECRET_BYTES) {
    throw new WebhookSecretError(
      `webhook secret must hold at least ${MIN_SECRET_BYTES} bytes of key material`,
    );
  }
  return new Webhook(secret);
}

/** Standard Webhooks headers: signature `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`. */
export function signWebhook(
  secret: string,
  messageId: string,
  timestamp: Date,
  body: string,
): SignatureHeaders {
  if (!messageId || /[\s.]/.test(messageId)) {
    throw new WebhookSecretError('message id must be non-empty and contain no dots or spaces');
  }
  const signature = webhookFor(secret).sign(messageId, timestamp, body);
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
    'webhook-signature': signature,
  };
}

/** Verifies as a receiver would (5-minute timestamp tolerance); throws WebhookVerificationError. */
export function verifyWebhook(secret: string, body: string, headers: Record<string, string>): unknown {
  return webhookFor(secret).verify(body, headers);
}
