import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { launchdPlist } from '../../../agent/service/launchd.js';
import { launchdLabel } from '../../../agent/service/spec.js';
import { repoRoot } from '../../helpers/processes.js';
import { linuxSpec, TRICKY_COLLECTOR, toolAvailable } from './fixtures.js';

// Keys documented in Apple's launchd.plist(5); anything else is ignored by launchd (a typo would be silent).
const LAUNCHD_KEYS = new Set([
  'Label',
  'Disabled',
  'UserName',
  'GroupName',
  'inetdCompatibility',
  'LimitLoadToHosts',
  'LimitLoadFromHosts',
  'LimitLoadToSessionType',
  'Program',
  'ProgramArguments',
  'EnableGlobbing',
  'EnableTransactions',
  'OnDemand',
  'KeepAlive',
  'RunAtLoad',
  'RootDirectory',
  'WorkingDirectory',
  'EnvironmentVariables',
  'Umask',
  'TimeOut',
  'ExitTimeOut',
  'ThrottleInterval',
  'InitGroups',
  'WatchPaths',
  'QueueDirectories',
  'StartOnMount',
  'StartInterval',
  'StartCalendarInterval',
  'StandardInPath',
  'StandardOutPath',
  'StandardErrorPath',
  'Debug',
  'WaitForDebugger',
  'SoftResourceLimits',
  'HardResourceLimits',
  'Nice',
  'ProcessType',
  'AbandonProcessGroup',
  'LowPriorityIO',
  'LowPriorityBackgroundIO',
  'LaunchOnlyOnce',
  'MachServices',
  'Sockets',
]);

// plistlib is Python's reader of Apple property lists (expat underneath): a real parser, not a regex.
const PLIST_TO_JSON = `
import json, plistlib, sys
data = plistlib.loads(sys.stdin.buffer.read())
def typed(value):
    if isinstance(value, dict):
        return {'type': 'dict', 'value': {k: typed(v) for k, v in value.items()}}
    if isinstance(value, list):
        return {'type': 'array', 'value': [typed(v) for v in value]}
    return {'type': type(value).__name__, 'value': value}
print(json.dumps(typed(data)))
`;

interface Typed {
  type: string;
  value: unknown;
}

function parsePlist(text: string): Record<string, Typed> {
  const result = spawnSync('python3', ['-c', PLIST_TO_JSON], { input: text, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`plistlib rejected the plist: ${result.stderr}`);
  const root = JSON.parse(result.stdout) as Typed;
  if (root.type !== 'dict') throw new Error(`plist root is a ${root.type}, launchd needs a dict`);
  return root.value as Record<string, Typed>;
}

const hasPython = toolAvailable('python3', ['-c', 'import plistlib'], 'install python3');

describe.skipIf(!hasPython)('launchdPlist parsed by plistlib', () => {
  const spec = linuxSpec({ user: 'root', env: { NODE_ENV: 'production', VIGIL_TAG: 'a & <b> "c"' } });
  let plist: Record<string, Typed>;

  beforeAll(() => {
    plist = parsePlist(launchdPlist(spec));
  });

  it('uses only documented launchd keys with their documented types', () => {
    for (const key of Object.keys(plist)) expect(LAUNCHD_KEYS.has(key), key).toBe(true);
    expect(plist.Label).toEqual({ type: 'str', value: 'com.vigil.agent' });
    // Restarted after a non-zero exit only: a revoked agent exits 0 under launchd and stays down.
    expect(plist.KeepAlive).toEqual({
      type: 'dict',
      value: { SuccessfulExit: { type: 'bool', value: false } },
    });
    expect(plist.RunAtLoad).toEqual({ type: 'bool', value: true });
    expect(plist.ThrottleInterval).toEqual({ type: 'int', value: 5 });
    expect(plist.ExitTimeOut).toEqual({ type: 'int', value: 15 });
    expect(plist.ProcessType).toEqual({ type: 'str', value: 'Background' });
    expect(plist.UserName).toEqual({ type: 'str', value: 'root' });
    expect(plist.WorkingDirectory).toEqual({ type: 'str', value: '/var/lib/vigil agent' });
    expect(plist.StandardOutPath).toEqual({ type: 'str', value: '/var/log/vigil/launchd.out.log' });
    expect(plist.StandardErrorPath).toEqual({ type: 'str', value: '/var/log/vigil/launchd.err.log' });
  });

  it('keeps every argument and environment value intact through XML escaping', () => {
    expect(plist.ProgramArguments?.type).toBe('array');
    const args = ((plist.ProgramArguments?.value ?? []) as Typed[]).map((item) => {
      expect(item.type).toBe('str');
      return item.value;
    });
    expect(args).toEqual([spec.nodePath, spec.scriptPath, ...spec.args]);
    expect(args).toContain(TRICKY_COLLECTOR);
    expect(plist.EnvironmentVariables).toEqual({
      type: 'dict',
      value: {
        NODE_ENV: { type: 'str', value: 'production' },
        VIGIL_TAG: { type: 'str', value: 'a & <b> "c"' },
        VIGIL_SERVICE_MANAGER: { type: 'str', value: 'launchd' },
      },
    });
  });

  it('omits UserName (root by default for a LaunchDaemon) and always names the service manager', () => {
    const bare = parsePlist(launchdPlist(linuxSpec({ env: undefined })));
    expect(bare.UserName).toBeUndefined();
    expect(bare.EnvironmentVariables).toEqual({
      type: 'dict',
      value: { VIGIL_SERVICE_MANAGER: { type: 'str', value: 'launchd' } },
    });
  });
});

describe('launchd names', () => {
  it('derives the reverse-DNS label from the service name', () => {
    expect(launchdLabel('vigil-agent')).toBe('com.vigil.agent');
    expect(launchdLabel('vigil-agent-test')).toBe('com.vigil.agent-test');
    expect(launchdLabel('sensor')).toBe('com.vigil.sensor');
  });

  it('rejects a relative log directory', () => {
    expect(() => launchdPlist(linuxSpec({ logDir: 'logs' }))).toThrow(/logDir/);
  });
});

const hasXmllint = toolAvailable('xmllint', ['--version'], 'install libxml2-utils');
// The plist's own DOCTYPE names Apple's DTD; an XML catalog resolves it to the copy in fixtures.
const catalog = join(repoRoot, 'tests/fixtures/schemas/catalog.xml');
const validateAgainstDtd = (xml: string) =>
  spawnSync('xmllint', ['--noout', '--nonet', '--valid', '-'], {
    input: xml,
    encoding: 'utf8',
    env: { ...process.env, XML_CATALOG_FILES: catalog },
  });

describe.skipIf(!hasXmllint)('launchdPlist against Apple’s plist DTD (xmllint)', () => {
  it('is valid, tricky values included', () => {
    const spec = linuxSpec({ user: 'root', env: { VIGIL_TAG: 'a & <b> "c"' } });
    const result = validateAgainstDtd(launchdPlist(spec));
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('would catch a plist the DTD forbids (negative control)', () => {
    const broken = launchdPlist(linuxSpec()).replace('<true/>', '<yes/>');
    expect(validateAgainstDtd(broken).status).not.toBe(0);
  });
});
