import { describe, expect, it } from 'vitest';
import { matchCaptureDriver, matchSniffer } from '../../shared/signatures/index.js';

describe('matchSniffer', () => {
  it.each([
    ['Windows image name', { name: 'Wireshark.exe', platform: 'win32' }, 'wireshark'],
    ['Windows name without .exe', { name: 'tshark', platform: 'win32' }, 'tshark'],
    [
      'Windows case-insensitive full path',
      { name: 'x', exe: 'C:\\PROGRAM FILES\\WIRESHARK\\DUMPCAP.EXE', platform: 'windows' },
      'dumpcap',
    ],
    ['Windows name with a space', { name: 'Fiddler Everywhere.exe', platform: 'win32' }, 'fiddler'],
    [
      'renamed Windows binary by OriginalFileName',
      { name: 'svc.exe', exe: 'C:\\Users\\a\\svc.exe', originalFileName: 'tshark.exe', platform: 'win32' },
      'tshark',
    ],
    ['Linux comm', { name: 'tcpdump', exe: '/usr/bin/tcpdump', platform: 'linux' }, 'tcpdump'],
    [
      'Linux comm truncated to 15 chars, exe intact',
      { name: 'BurpSuiteCommun', exe: '/opt/burp/BurpSuiteCommunity', platform: 'linux' },
      'burp-suite',
    ],
    [
      'macOS app bundle',
      { name: 'Wireshark', exe: '/Applications/Wireshark.app/Contents/MacOS/Wireshark', platform: 'darwin' },
      'wireshark',
    ],
    [
      'Responder through python',
      {
        name: 'python3',
        exe: '/usr/bin/python3.11',
        cmdline: 'python3 /opt/Responder/Responder.py -I eth0',
        platform: 'linux',
      },
      'responder-script',
    ],
    [
      'Inveigh in PowerShell',
      {
        name: 'powershell.exe',
        cmdline: 'powershell -ep bypass -c "Import-Module .\\Inveigh.ps1; Invoke-Inveigh -ConsoleOutput Y"',
        platform: 'win32',
      },
      'inveigh-powershell',
    ],
    [
      'netsh trace with capture',
      { name: 'netsh.exe', cmdline: 'netsh trace start capture=yes tracefile=c:\\t.etl', platform: 'win32' },
      'netsh-trace-capture',
    ],
    [
      'NetEventSession cmdlets',
      {
        name: 'powershell.exe',
        cmdline: 'powershell New-NetEventSession -Name s -CaptureMode SaveToFile',
        platform: 'win32',
      },
      'powershell-neteventsession',
    ],
    [
      'logman NDIS provider',
      {
        name: 'logman.exe',
        cmdline: 'logman start cap -p Microsoft-Windows-NDIS-PacketCapture -o c.etl -ets',
        platform: 'win32',
      },
      'logman-ndis-packetcapture',
    ],
    [
      'burp jar',
      { name: 'java', cmdline: 'java -jar /home/a/burpsuite_community_v2024.jar', platform: 'linux' },
      'burp-suite-jar',
    ],
  ] as const)('matches %s', (_label, query, id) => {
    expect(matchSniffer(query)?.id).toBe(id);
  });

  it('prefers the stronger signal: pktmon start outranks pktmon itself', () => {
    expect(matchSniffer({ name: 'PktMon.exe', cmdline: 'pktmon list', platform: 'win32' })).toMatchObject({
      id: 'pktmon',
      level: 'medium',
      technique: 'T1040',
    });
    const started = matchSniffer({
      name: 'PktMon.exe',
      cmdline: 'pktmon start --capture --pkt-size 0',
      platform: 'win32',
    });
    expect(started).toMatchObject({ id: 'pktmon-start', level: 'high' });
    expect(started?.reason).toBe('command line matches pktmon start (packet capture)');
  });

  it('explains a name match', () => {
    expect(matchSniffer({ name: 'ettercap', platform: 'linux' })).toEqual({
      id: 'ettercap',
      name: 'Ettercap',
      technique: 'T1557.002',
      level: 'critical',
      reason: 'executable "ettercap" is Ettercap',
    });
  });

  it.each([
    [
      'an ordinary process',
      {
        name: 'chrome.exe',
        exe: 'C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe',
        platform: 'win32',
      },
    ],
    ['a name that only contains a sniffer name', { name: 'tcpdump-helper', platform: 'linux' }],
    ['a Windows-only tool on Linux', { name: 'RawCap.exe', platform: 'linux' }],
    ['.exe stripping only on Windows', { name: 'tcpdump.exe', platform: 'linux' }],
    [
      'netsh trace without capture',
      { name: 'netsh.exe', cmdline: 'netsh trace start scenario=InternetClient', platform: 'win32' },
    ],
    ['tcpdump -W is not -w', { name: 'sh', cmdline: 'tcpdump -W 5', platform: 'linux' }],
    ['a path separator in the name on Linux', { name: 'x', exe: '/home/a/not\\tcpdump', platform: 'linux' }],
  ] as const)('does not match %s', (_label, query) => {
    expect(matchSniffer(query)).toBeNull();
  });

  it('tcpdump -w pattern needs both the image and the flag', () => {
    expect(
      matchSniffer({ name: 'tcpdump', cmdline: 'tcpdump -i en0 -nnw /tmp/x.pcap', platform: 'darwin' })?.id,
    ).toBe('tcpdump-write');
    expect(matchSniffer({ name: 'tcpdump', cmdline: 'tcpdump -i en0 -W 3', platform: 'darwin' })?.id).toBe(
      'tcpdump',
    );
  });
});

describe('matchCaptureDriver', () => {
  it.each([
    ['npcap', 'npcap'],
    ['NPCAP', 'npcap'],
    ['npcap.sys', 'npcap'],
    ['C:\\Windows\\System32\\drivers\\npcap.sys', 'npcap'],
    ['npcap_wifi', 'npcap'],
    ['WinDivert1.4', 'windivert'],
    ['windivert14', 'windivert'],
    ['PktMon', 'pktmon'],
    ['USBPcap', 'usbpcap'],
  ])('matches %s', (name, id) => {
    expect(matchCaptureDriver(name)?.id).toBe(id);
  });

  it('marks the built-in drivers', () => {
    expect(matchCaptureDriver('ndiscap')?.builtin).toBe(true);
    expect(matchCaptureDriver('npf')?.builtin).toBe(false);
  });

  it.each([['tcpip'], [''], ['npcapx'], ['\\']])('does not match %j', (name) => {
    expect(matchCaptureDriver(name)).toBeNull();
  });
});
