// Linux packet-capture reader: the /proc/net tables as this machine printed them (recorded with
// tcpdump -i lo, a Python AF_PACKET socket for ETH_P_IP and raw IPv4/IPv6 sockets running), the
// per-namespace interface names, and the reader live against tcpdump inside a network namespace.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  LinuxCaptureReader,
  parseInterfaceIndexes,
  parsePacketTable,
  parseRawTable,
} from '../../../../agent/platform/linux/capture.js';
import { ProcReader, parseLoginUid } from '../../../../agent/platform/linux/procfs.js';
import { userNamed } from '../../../helpers/e2e.js';
import { canUseNetns, createVethPair, hasTool, type VethPair } from '../../../helpers/netns.js';
import { waitFor } from '../../../helpers/processes.js';

// Recorded on this machine (Linux 6.x, x86_64) while `tcpdump -i lo` (ETH_P_ALL on ifindex 1) and
// `socket(AF_PACKET, SOCK_RAW, htons(0x0800))` (IPv4 only, any interface) were open.
const PROC_NET_PACKET = `sk               RefCnt Type Proto  Iface R Rmem   User   Inode
00000000534f99f3 3      3    0003   1     1 0      0      200617
0000000011dbd338 3      3    0800   0     1 124292 0      197956
`;
// socket(AF_INET, SOCK_RAW, IPPROTO_TCP): protocol 6 in the local "port".
const PROC_NET_RAW = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  14: 00000000:0006 00000000:0000 07 00000000:0001E586 00:00000000 00000000     0        0 197957 2 00000000b9ff5186 0
`;
// socket(AF_INET6, SOCK_RAW, IPPROTO_UDP): protocol 17 (0x11).
const PROC_NET_RAW6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  204: 00000000000000000000000000000000:0011 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 197958 2 00000000da30514e 0
`;
const PROC_NET_IGMP = `Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter
1\tlo        :     1      V3
\t\t\t\t010000E0     1 0:00000000\t\t0
4\teth0      :     1      V3
\t\t\t\t010000E0     1 0:00000000\t\t0
`;
const PROC_NET_DEV_MCAST = `2    ifb0            1     0     333300000001
3    ifb1            1     0     333300000001
4    eth0            1     0     333300000001
4    eth0            1     0     01005e000001
`;
const PROC_NET_IF_INET6 = `00000000000000000000000000000001 01 80 10 80       lo
fd000000000000000000000000000002 04 40 00 82     eth0
`;

describe('/proc/net tables', () => {
  it('reads Proto in host order: 0003 is ETH_P_ALL, 0800 IPv4', () => {
    expect(parsePacketTable(PROC_NET_PACKET)).toEqual([
      { inode: 200617, kind: 'packet', ifindex: 1, protocol: 'all' },
      { inode: 197956, kind: 'packet', ifindex: 0, protocol: '0x0800' },
    ]);
  });

  it('reads the IP protocol of raw sockets from the local port', () => {
    expect(parseRawTable(PROC_NET_RAW)).toEqual([{ inode: 197957, kind: 'raw', protocol: 'tcp' }]);
    expect(parseRawTable(PROC_NET_RAW6)).toEqual([{ inode: 197958, kind: 'raw', protocol: 'udp' }]);
    expect(parseRawTable(PROC_NET_RAW.split('\n')[0]!)).toEqual([]);
  });

  it('maps interface indexes to names from igmp, dev_mcast and if_inet6', () => {
    const names = parseInterfaceIndexes({
      igmp: PROC_NET_IGMP,
      devMcast: PROC_NET_DEV_MCAST,
      ifInet6: PROC_NET_IF_INET6,
    });
    expect([...names].sort((a, b) => a[0] - b[0])).toEqual([
      [1, 'lo'],
      [2, 'ifb0'],
      [3, 'ifb1'],
      [4, 'eth0'],
    ]);
    expect(parseInterfaceIndexes({}).size).toBe(0);
  });

  it('ignores an unset login uid', () => {
    expect(parseLoginUid('4294967295')).toBeUndefined();
    expect(parseLoginUid('1000\n')).toBe(1000);
    expect(parseLoginUid(undefined)).toBeUndefined();
  });
});

const live = process.platform === 'linux' && canUseNetns() && hasTool('tcpdump');

describe.skipIf(!live)('LinuxCaptureReader against a real tcpdump', () => {
  let pair: VethPair | undefined;
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill('SIGKILL');
    child = undefined;
    pair?.remove();
    pair = undefined;
  });

  it('names the interface as the sniffer namespace does, and who logged in to start it', async () => {
    pair = createVethPair();
    const loginUid = 1000;
    // A login session's process (loginuid set), then tcpdump in the namespace: it drops to the
    // tcpdump account, its loginuid stays.
    child = spawn(
      'sh',
      [
        '-c',
        `echo ${loginUid} > /proc/self/loginuid && exec ip netns exec ${pair.namespace} tcpdump -i ${pair.inside} -w /dev/null`,
      ],
      { stdio: 'ignore' },
    );
    const reader = new LinuxCaptureReader();
    const inode = (text: string) => parsePacketTable(text).map((e) => e.inode);
    const pid = child.pid!;
    const socket = await waitFor(
      'tcpdump packet socket with its owner',
      async () => {
        // The exec chain ends in tcpdump; wait for its socket to be listed in its namespace.
        const own = readFileSync(`/proc/${pid}/net/packet`, 'utf8');
        if (inode(own).length === 0) return undefined;
        const snapshot = await reader.snapshot();
        return snapshot.sockets.find((s) => inode(own).includes(s.inode!) && s.pid === pid);
      },
      15_000,
    );
    // The root namespace's /sys/class/net knows no interface by that name (or another one at
    // that index): the name comes from the sniffer's namespace.
    expect(socket.interface).toBe(pair.inside);
    expect(socket.protocol).toBe('all');
    expect(socket.name).toBe('tcpdump');
    expect(socket.loginUser).toBe(userNamed(loginUid));
    const details = await new ProcReader().details(pid);
    expect(details?.loginUser).toBe(userNamed(loginUid));
  });
});
