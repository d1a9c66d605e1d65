// Password hashing with scrypt (node:crypto): a random salt per password, and the cost parameters
// stored beside the hash so they can be raised later without breaking existing passwords.
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

const KEY_LENGTH = 64;
const DEFAULT_COST = { N: 16384, r: 8, p: 1 };
// Enough for N=2^17 with r=8 (128 * N * r bytes), which is the most we accept from a stored hash.
const MAX_MEMORY = 256 * 1024 * 1024;

function derive(password: string, salt: Buffer, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { ...cost, maxmem: MAX_MEMORY };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, options, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** `scrypt$N$r$p$salt$hash` (salt and hash in base64url). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, DEFAULT_COST);
  const { N, r, p } = DEFAULT_COST;
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

function parse(stored: string): { N: number; r: number; p: number; salt: Buffer; key: Buffer } | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every(Number.isInteger) || N < 2 || N > 2 ** 17 || r < 1 || r > 32 || p < 1 || p > 16) {
    return undefined;
  }
  return { N, r, p, salt: Buffer.from(parts[4]!, 'base64url'), key: Buffer.from(parts[5]!, 'base64url') };
}

// Verifying against this when the user does not exist keeps the answer time the same.
const decoy = hashPassword(randomBytes(16).toString('hex'));

/** Constant-time check of a password against a stored hash; a missing hash never verifies. */
export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  const parsed = parse(stored ?? (await decoy));
  if (!parsed) return false;
  const key = await derive(password, parsed.salt, parsed);
  const matches = key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
  return matches && Boolean(stored);
}

export const MIN_PASSWORD_LENGTH = 12;
