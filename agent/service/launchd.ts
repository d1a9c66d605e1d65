import path from 'node:path';
import { launchdLabel, type ServiceSpec, validateServiceSpec } from './spec.js';
import { escapeXml } from './xml.js';

function stringElement(value: string): string {
  return `<string>${escapeXml(value)}</string>`;
}

/** Text of /Library/LaunchDaemons/<label>.plist (keys as documented in launchd.plist(5)). */
export function launchdPlist(spec: ServiceSpec): string {
  validateServiceSpec(spec, 'darwin');
  const argumentsXml = [spec.nodePath, ...(spec.nodeArgs ?? []), spec.scriptPath, ...spec.args]
    .map((arg) => `    ${stringElement(arg)}`)
    .join('\n');
  // Tells the agent to exit 0 when revoked: KeepAlive below restarts it after any other status.
  const environment = { ...spec.env, VIGIL_SERVICE_MANAGER: 'launchd' };
  const environmentXml = Object.entries(environment)
    .map(([key, value]) => `    <key>${escapeXml(key)}</key>\n    ${stringElement(value)}`)
    .join('\n');
  const userXml = spec.user === undefined ? [] : ['  <key>UserName</key>', `  ${stringElement(spec.user)}`];
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    '<dict>',
    '  <key>Label</key>',
    `  ${stringElement(launchdLabel(spec.name))}`,
    '  <key>ProgramArguments</key>',
    '  <array>',
    argumentsXml,
    '  </array>',
    '  <key>RunAtLoad</key>',
    '  <true/>',
    // Restarted whenever it exits unsuccessfully (a crash, the watchdog's 75), like Restart=always;
    // not after exit 0: a clean stop, or a revoked agent, which would otherwise restart forever.
    '  <key>KeepAlive</key>',
    '  <dict>',
    '    <key>SuccessfulExit</key>',
    '    <false/>',
    '  </dict>',
    // Seconds between restarts (launchd's default is 10), matching RestartSec=5 on Linux.
    '  <key>ThrottleInterval</key>',
    '  <integer>5</integer>',
    // Seconds between SIGTERM and SIGKILL on stop, matching TimeoutStopSec=15 on Linux.
    '  <key>ExitTimeOut</key>',
    '  <integer>15</integer>',
    '  <key>ProcessType</key>',
    '  <string>Background</string>',
    ...userXml,
    '  <key>WorkingDirectory</key>',
    `  ${stringElement(spec.stateDir)}`,
    '  <key>EnvironmentVariables</key>',
    '  <dict>',
    ...(environmentXml === '' ? [] : [environmentXml]),
    '  </dict>',
    // Only what escapes the agent's own logger (crashes before it starts, native aborts) lands here.
    '  <key>StandardOutPath</key>',
    `  ${stringElement(path.posix.join(spec.logDir, 'launchd.out.log'))}`,
    '  <key>StandardErrorPath</key>',
    `  ${stringElement(path.posix.join(spec.logDir, 'launchd.err.log'))}`,
    '</dict>',
    '</plist>',
    '',
  ].join('\n');
}
