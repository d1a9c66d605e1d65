// Secrets handed out by the collector (API tokens, agent tokens, enroll secrets) are random and
// long, so a fast hash is enough to store them: only the hash ever reaches the database.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const newToken = (prefix: string): string => `${prefix}_${randomBytes(32).toString('base64url')}`;

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');

export const sameSecret = (a: string, b: string): boolean => {
  const x = Buffer.from(hashToken(a), 'hex');
  const y = Buffer.from(hashToken(b), 'hex');
  return timingSafeEqual(x, y);
};

/** Reads `Authorization: Bearer <token>`; undefined when absent or of another scheme. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}
