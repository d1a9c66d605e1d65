// The agent's identity: enrolled once with a group secret, then kept in the state directory
// (mode 0600). Re-enrollment is explicit (`vigil-agent enroll`).
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { EnrollResponse, HostInventory } from '../shared/protocol.js';
import type { TlsOptions } from './tls.js';

export interface Identity {
  agentId: string;
  token: string;
  group: string;
  collectorUrl: string;
  enrolledAt: string;
}

export class EnrollError extends Error {
  constructor(
    readonly code: 'enroll_refused' | 'enroll_unreachable' | 'enroll_tls' | 'no_enroll_secret',
    message: string,
  ) {
    super(message);
  }
}

const identityFile = (stateDir: string) => join(stateDir, 'identity.json');

export function loadIdentity(stateDir: string): Identity | undefined {
  const file = identityFile(stateDir);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as Identity;
}

export function saveIdentity(stateDir: string, identity: Identity): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = identityFile(stateDir);
  writeFileSync(`${file}.tmp`, JSON.stringify(identity, null, 2), { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/**
 * The identity with the collector URL the operator configured now (`--collector`), saved when it
 * changed: a collector moved to another address keeps its agents (same id and token).
 */
export function withCollectorUrl(stateDir: string, identity: Identity, collectorUrl: string): Identity {
  if (identity.collectorUrl === collectorUrl) return identity;
  const moved = { ...identity, collectorUrl };
  saveIdentity(stateDir, moved);
  return moved;
}

const revokedFile = (stateDir: string) => join(stateDir, 'revoked');

/** Why and when the collector refused this agent's token; present until `vigil-agent enroll` succeeds. */
export interface RevokedMarker {
  reason: string;
  at: string;
}

/** Refused by the collector: a service manager restarting the agent must not scan and retry forever. */
export class AgentRevokedError extends Error {
  readonly code = 'agent_revoked';
  constructor(
    readonly marker: RevokedMarker,
    stateDir: string,
  ) {
    super(
      `the collector refused this agent (${marker.reason}, ${marker.at}); ` +
        `run \`vigil-agent enroll\` to enroll it again (marker: ${revokedFile(stateDir)})`,
    );
  }
}

/** Exit status of a revoked agent under systemd (RestartPreventExitStatus=3 keeps it stopped) or a shell. */
export const REVOKED_EXIT_CODE = 3;

/**
 * launchd (KeepAlive = {SuccessfulExit: false}) and WinSW (<onfailure> acts on a non-zero exit,
 * docs/xml-config-file.md) restart on any non-zero status and have no per-status exception, so
 * under them — their service files set VIGIL_SERVICE_MANAGER — a revoked agent exits 0.
 */
export function revokedExitCode(env: NodeJS.ProcessEnv = process.env): number {
  const manager = env.VIGIL_SERVICE_MANAGER;
  return manager === 'launchd' || manager === 'winsw' ? 0 : REVOKED_EXIT_CODE;
}

export function markRevoked(stateDir: string, reason: string): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const marker: RevokedMarker = { reason, at: new Date().toISOString() };
  writeFileSync(revokedFile(stateDir), `${JSON.stringify(marker)}\n`, { mode: 0o600 });
}

export function readRevoked(stateDir: string): RevokedMarker | undefined {
  const file = revokedFile(stateDir);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as RevokedMarker;
  } catch {
    // A damaged marker still means the agent was refused.
    return { reason: 'revoked (marker unreadable)', at: 'unknown' };
  }
}

export function clearRevoked(stateDir: string): void {
  rmSync(revokedFile(stateDir), { force: true });
}

function postJson(url: string, body: unknown, tls: TlsOptions): Promise<{ status: number; body: unknown }> {
  const payload = Buffer.from(JSON.stringify(body));
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': payload.length },
        timeout: 15_000,
        ...tls,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('enrollment timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}

export async function enroll(options: {
  collectorUrl: string;
  secret: string | undefined;
  host: HostInventory;
  agentVersion: string;
  tls: TlsOptions;
}): Promise<Identity> {
  if (!options.secret) {
    throw new EnrollError(
      'no_enroll_secret',
      'this agent is not enrolled yet: give --enroll-secret (VIGIL_ENROLL_SECRET)',
    );
  }
  let response: { status: number; body: unknown };
  try {
    response = await postJson(
      `${options.collectorUrl}/api/v1/enroll`,
      { secret: options.secret, host: options.host, agentVersion: options.agentVersion },
      options.tls,
    );
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // A certificate that cannot be verified is a configuration problem, not an outage: no retry helps.
    if (/CERT|TLS|SSL|SELF_SIGNED|VERIFY|ISSUER|SIGNATURE/i.test(e.code ?? '')) {
      throw new EnrollError(
        'enroll_tls',
        `cannot verify ${options.collectorUrl}: ${e.message} (give --ca, or --insecure for a test)`,
      );
    }
    throw new EnrollError('enroll_unreachable', `cannot reach ${options.collectorUrl}: ${e.message}`);
  }
  if (response.status !== 200) {
    const reason =
      (response.body as { error?: { message?: string } })?.error?.message ?? `HTTP ${response.status}`;
    throw new EnrollError('enroll_refused', `the collector refused enrollment: ${reason}`);
  }
  const body = response.body as EnrollResponse;
  return {
    agentId: body.agentId,
    token: body.token,
    group: body.group,
    collectorUrl: options.collectorUrl,
    enrolledAt: new Date().toISOString(),
  };
}
