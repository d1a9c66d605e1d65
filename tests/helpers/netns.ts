// Network namespaces with a veth pair, made for one test and removed after it. Traffic stays
// between the two ends; nothing leaves the machine.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface VethPair {
  namespace: string;
  /** The end left in the root namespace. */
  outside: string;
  /** The end moved into `namespace`. */
  inside: string;
  remove(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });

export function createVethPair(): VethPair {
  const tag = randomBytes(3).toString('hex');
  const namespace = `vigil-${tag}`;
  const outside = `vo${tag}`;
  const inside = `vi${tag}`;
  ip('netns', 'add', namespace);
  ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside);
  ip('link', 'set', inside, 'netns', namespace);
  ip('link', 'set', outside, 'up');
  ip('-n', namespace, 'link', 'set', inside, 'up');
  ip('-n', namespace, 'link', 'set', 'lo', 'up');
  return {
    namespace,
    outside,
    inside,
    remove() {
      try {
        ip('link', 'del', outside);
      } catch {}
      try {
        ip('netns', 'del', namespace);
      } catch {}
    },
  };
}

/** Root and `ip` are needed; in CI their absence is a failure, elsewhere a skip with a message. */
export function canUseNetns(): boolean {
  const root = process.getuid?.() === 0;
  let hasIp = true;
  try {
    execFileSync('ip', ['-V'], { stdio: 'pipe' });
  } catch {
    hasIp = false;
  }
  if (root && hasIp) return true;
  const why = !root ? 'not running as root' : 'iproute2 (ip) is not installed';
  if (process.env.CI) throw new Error(`network namespace tests need root and iproute2 in CI: ${why}`);
  console.warn(`skipping network namespace tests: ${why}`);
  return false;
}

export function hasTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'pipe' });
    return true;
  } catch {
    if (process.env.CI) throw new Error(`${name} is required in CI (.ci/run installs it)`);
    console.warn(`skipping: ${name} is not installed (apt-get install ${name})`);
    return false;
  }
}
