// Packet capture as Linux shows it, whatever the tool is called:
// - promiscuous interfaces: IFF_PROMISC (0x100) in /sys/class/net/<if>/flags (libpcap's
//   PACKET_MR_PROMISC shows there, not in `ip link`);
// - packet sockets (/proc/<pid>/net/packet) and raw IP sockets (/proc/<pid>/net/raw, raw6), read
//   once per network namespace so a sniffer inside a container or `ip netns` is seen too, and
//   mapped to their owner through /proc/<pid>/fd links `socket:[inode]`.
import { readdirSync } from 'node:fs';
import { readdir, readlink } from 'node:fs/promises';
import type { CaptureReader, CaptureSnapshot, PacketSocketOwner } from '../types.js';
import { listPids, PROC, ProcReader, readLinkNow, readTextNow } from './procfs.js';

const IFF_PROMISC = 0x100;
const OWNER_RETRY_MS = 30_000;

export interface RawSocketEntry {
  inode: number;
  kind: 'packet' | 'raw';
  ifindex?: number;
  protocol: string;
}

/**
 * /proc/net/packet: `sk RefCnt Type Proto Iface R Rmem User Inode`. The kernel prints Proto with
 * ntohs() already applied: host order, 0003 for ETH_P_ALL (tcpdump), 0800 for IPv4 only.
 */
export function parsePacketTable(text: string): RawSocketEntry[] {
  const entries: RawSocketEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 9) continue;
    const ethertype = Number.parseInt(cols[3]!, 16);
    entries.push({
      inode: Number(cols[8]),
      kind: 'packet',
      ifindex: Number(cols[4]),
      protocol: ethertype === 0x0003 ? 'all' : `0x${ethertype.toString(16).padStart(4, '0')}`,
    });
  }
  return entries;
}

/** /proc/net/raw{,6}: the local address's "port" holds the IP protocol number; inode is column 10. */
export function parseRawTable(text: string): RawSocketEntry[] {
  const entries: RawSocketEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 10) continue;
    const protocol = Number.parseInt(cols[1]!.split(':')[1] ?? '0', 16);
    entries.push({ inode: Number(cols[9]), kind: 'raw', protocol: ipProtocolName(protocol) });
  }
  return entries;
}

/**
 * ifindex → interface name of another network namespace, from its /proc/<pid>/net files: sysfs
 * (/sys/class/net) only shows the agent's own namespace, where the same index can name another
 * interface. igmp lists every interface with IPv4 multicast state (`Idx Device : …`), dev_mcast
 * those with link-layer multicast addresses, if_inet6 those with IPv6 addresses (index in hex).
 */
export function parseInterfaceIndexes(files: {
  igmp?: string;
  devMcast?: string;
  ifInet6?: string;
}): Map<number, string> {
  const names = new Map<number, string>();
  for (const line of (files.igmp ?? '').split('\n')) {
    const match = /^(\d+)\s+(\S+)\s*:/.exec(line);
    if (match) names.set(Number(match[1]), match[2]!);
  }
  for (const line of (files.devMcast ?? '').split('\n')) {
    const match = /^(\d+)\s+(\S+)\s+\d+/.exec(line);
    if (match) names.set(Number(match[1]), match[2]!);
  }
  for (const line of (files.ifInet6 ?? '').split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length >= 6) names.set(Number.parseInt(cols[1]!, 16), cols[5]!);
  }
  return names;
}

const ipProtocolName = (n: number) =>
  ({ 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 255: 'raw' })[n] ?? `ip/${n}`;

/** Raw ICMP sockets are what ping uses when it lacks the ping socket sysctl; not capture. */
const isPing = (entry: RawSocketEntry) =>
  entry.kind === 'raw' && (entry.protocol === 'icmp' || entry.protocol === 'icmpv6');

export class LinuxCaptureReader implements CaptureReader {
  private readonly procReader: ProcReader;
  /** pid → network namespace id; read once per pid. */
  private readonly netnsOf = new Map<number, string>();
  private lastPids: number[] | undefined;
  private lastNamespaceDirs: string[][] | undefined;
  /** interface name → ifindex; an index never changes while the interface exists. */
  private readonly ifindexOf = new Map<string, number>();
  /** socket inode → when its owner was last searched for in vain (the fd walk is the costly part). */
  private readonly ownerless = new Map<number, number>();
  /** socket inode → owner, kept while the socket lives. */
  private readonly owners = new Map<
    number,
    Omit<PacketSocketOwner, 'key' | 'kind' | 'inode' | 'interface' | 'protocol'>
  >();

  constructor(
    private readonly proc = PROC,
    private readonly sysNet = '/sys/class/net',
  ) {
    this.procReader = new ProcReader(proc);
  }

  async snapshot(): Promise<CaptureSnapshot> {
    const problems: string[] = [];
    const [promiscuous, ifnames] = await this.interfaces();
    const entries = new Map<number, RawSocketEntry>();
    /** inode → the /proc/<pid> directory of its namespace, for sockets outside the agent's own. */
    const foreignDir = new Map<number, string>();
    const namespaces = await this.namespaceDirs();
    for (const [index, dirs] of namespaces.entries()) {
      // Any live pid of a namespace shows that namespace's tables; try the next if one just exited.
      for (const dir of dirs) {
        // Sync reads: these pseudo-files are tiny and the promise API costs several times the CPU.
        const tables = (['packet', 'raw', 'raw6'] as const).map((file) => {
          const text = readTextNow(`${dir}/net/${file}`);
          if (text === undefined) return undefined;
          return file === 'packet' ? parsePacketTable(text) : parseRawTable(text);
        });
        if (tables[0] === undefined) continue;
        for (const entry of tables.flat()) {
          if (!entry || entry.inode <= 0 || isPing(entry)) continue;
          entries.set(entry.inode, entry);
          // Index 0 is the agent's own namespace (see namespaceDirs).
          if (index > 0) foreignDir.set(entry.inode, dir);
        }
        break;
      }
    }
    for (const inode of this.owners.keys()) if (!entries.has(inode)) this.owners.delete(inode);
    for (const inode of this.ownerless.keys()) if (!entries.has(inode)) this.ownerless.delete(inode);
    // A socket whose owner cannot be found (another pid namespace, no permission) is searched for
    // again only every OWNER_RETRY_MS, not on every scan.
    const now = Date.now();
    const unknown = [...entries.keys()].filter(
      (inode) => !this.owners.has(inode) && now - (this.ownerless.get(inode) ?? 0) >= OWNER_RETRY_MS,
    );
    if (unknown.length > 0) {
      const missing = new Set(unknown);
      await this.findOwners(missing, problems);
      for (const inode of missing) this.ownerless.set(inode, now);
    }

    const foreignNames = new Map<string, Map<number, string>>();
    const interfaceName = (entry: RawSocketEntry): string | undefined => {
      if (!entry.ifindex) return entry.kind === 'packet' ? 'any' : undefined;
      const dir = foreignDir.get(entry.inode);
      let names = ifnames;
      if (dir !== undefined) {
        names = foreignNames.get(dir) ?? this.namespaceInterfaces(dir);
        foreignNames.set(dir, names);
      }
      return names.get(entry.ifindex) ?? `ifindex ${entry.ifindex}`;
    };
    const sockets: PacketSocketOwner[] = [...entries.values()].map((entry) => ({
      key: `inode:${entry.inode}`,
      kind: entry.kind,
      inode: entry.inode,
      interface: interfaceName(entry),
      protocol: entry.protocol,
      ...this.owners.get(entry.inode),
    }));
    return { promiscuous, sockets, drivers: [], problems };
  }

  private async interfaces(): Promise<[Set<string>, Map<number, string>]> {
    const promiscuous = new Set<string>();
    const names = new Map<number, string>();
    let ifaces: string[] = [];
    try {
      ifaces = readdirSync(this.sysNet);
    } catch {
      // No sysfs (some containers): no interfaces to report.
    }
    const present = new Set(ifaces);
    for (const name of this.ifindexOf.keys()) if (!present.has(name)) this.ifindexOf.delete(name);
    for (const name of ifaces) {
      const flags = readTextNow(`${this.sysNet}/${name}/flags`);
      if (flags && Number.parseInt(flags, 16) & IFF_PROMISC) promiscuous.add(name);
      let index = this.ifindexOf.get(name);
      if (index === undefined) {
        const text = readTextNow(`${this.sysNet}/${name}/ifindex`);
        if (text) {
          index = Number(text);
          this.ifindexOf.set(name, index);
        }
      }
      if (index !== undefined) names.set(index, name);
    }
    return [promiscuous, names];
  }

  /** ifindex → name in the network namespace that `dir` (/proc/<pid>) shows. */
  private namespaceInterfaces(dir: string): Map<number, string> {
    return parseInterfaceIndexes({
      igmp: readTextNow(`${dir}/net/igmp`),
      devMcast: readTextNow(`${dir}/net/dev_mcast`),
      ifInet6: readTextNow(`${dir}/net/if_inet6`),
    });
  }

  /** For each network namespace, the /proc/<pid> directories that show it (ours first). */
  private async namespaceDirs(): Promise<string[][]> {
    const pids = await listPids(this.proc);
    // The same pid list as last scan (listPids hands back the same array): the same namespaces.
    if (pids === this.lastPids && this.lastNamespaceDirs) return this.lastNamespaceDirs;
    const alive = new Set(pids);
    for (const pid of this.netnsOf.keys()) if (!alive.has(pid)) this.netnsOf.delete(pid);
    // Namespace links answer at once: read synchronously, no thread-pool round trip per pid.
    for (const pid of pids) {
      // Unreadable (no permission): such a pid can only be seen through our own namespace.
      if (!this.netnsOf.has(pid)) this.netnsOf.set(pid, readLinkNow(`${this.proc}/${pid}/ns/net`) ?? '');
    }
    const selfNs = readLinkNow(`${this.proc}/self/ns/net`) ?? '';
    const byNamespace = new Map<string, string[]>([[selfNs, [`${this.proc}/self`]]]);
    for (const [pid, ns] of this.netnsOf) {
      if (ns === '' || ns === selfNs) continue;
      const dirs = byNamespace.get(ns) ?? [];
      if (dirs.length < 4) dirs.push(`${this.proc}/${pid}`);
      byNamespace.set(ns, dirs);
    }
    this.lastPids = pids;
    this.lastNamespaceDirs = [...byNamespace.values()];
    return this.lastNamespaceDirs;
  }

  /** Walks /proc/<pid>/fd looking for `socket:[inode]` links of the sockets we do not know yet. */
  private async findOwners(inodes: Set<number>, problems: string[]): Promise<void> {
    let denied = 0;
    for (const pid of await listPids(this.proc)) {
      if (inodes.size === 0) break;
      const fds = await readdir(`${this.proc}/${pid}/fd`).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'EACCES') denied++;
        return [] as string[];
      });
      for (const fd of fds) {
        const link = await readlink(`${this.proc}/${pid}/fd/${fd}`).catch(() => undefined);
        if (!link?.startsWith('socket:[')) continue;
        const inode = Number(link.slice(8, -1));
        if (!inodes.has(inode)) continue;
        inodes.delete(inode);
        const info = await this.procReader.details(pid);
        // The executable may be unreadable (no CAP_SYS_PTRACE, or the process is exiting): the
        // name (comm) still lets name-based rules fire; an absent exe says it is unknown.
        this.owners.set(inode, {
          pid,
          name: info?.name || (await this.procReader.name(pid)),
          exe: info?.exe || undefined,
          cmdline: info?.cmdline,
          user: info?.user,
          loginUser: info?.loginUser,
        });
      }
    }
    if (denied > 0)
      problems.push(`no permission to read the open files of ${denied} processes (run as root)`);
  }
}
