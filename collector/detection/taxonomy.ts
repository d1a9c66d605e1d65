// Maps Vigil events onto the Sigma taxonomy (logsource + Sysmon-style field names) so rules can match them.
// The categories and fields are documented in TAXONOMY.md beside this file.
import type { EventOf, VigilEvent } from '../../shared/events.js';

export interface SigmaMappedEvent {
  logsource: { category: string; product: string };
  fields: Record<string, unknown>;
  /** What alerts deduplicate on: the process image, interface, driver, file or host concerned. */
  entity: string;
}

export type SigmaProduct = 'windows' | 'linux' | 'macos';

const PRODUCTS: Record<string, SigmaProduct> = { win32: 'windows', linux: 'linux', darwin: 'macos' };

/** The Sigma product of a host platform (Node's `process.platform` names); unknown ones pass through. */
export const sigmaProduct = (platform: string): string => PRODUCTS[platform] ?? platform;

/**
 * Builds the fields, leaving out absent values so `Field: null` rules and `|exists` see them as missing.
 * Assigning key by key (rather than filtering a full object) keeps this cheap on the ingest path.
 */
function compact(entries: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const key in entries) {
    const value = entries[key];
    if (value !== undefined) result[key] = value;
  }
  return result;
}

const processEntity = (exe: string | undefined, name: string | undefined, pid: number | undefined): string =>
  exe || name || (pid === undefined ? 'unknown' : `pid:${pid}`);

function processStart(data: EventOf<'process.start'>['data']): Record<string, unknown> {
  return compact({
    Image: data.exe,
    CommandLine: data.cmdline,
    ParentImage: data.parentExe,
    ParentCommandLine: data.parentCmdline,
    User: data.user,
    // Who logged in and started it, when the process runs as another account (tcpdump drops to its own).
    LogonUser: data.loginUser,
    ProcessId: data.pid,
    ParentProcessId: data.ppid,
    CurrentDirectory: data.cwd,
    // Sysmon writes hashes upper-case as `ALGO=HEX`; rules written for Sysmon expect that form.
    Hashes: data.sha256 === undefined ? undefined : `SHA256=${data.sha256.toUpperCase()}`,
    OriginalFileName: data.originalFileName,
    Signer: data.signer,
    Sha256: data.sha256,
    Name: data.name,
    ParentName: data.parentName,
  });
}

/*
 * The mapped event and its logsource are class instances rather than object literals: V8 tracks
 * literals per allocation site and, once a site's objects have been seen surviving (a caller keeping a
 * batch of mapped events), allocates all later ones straight into the old generation. Every short-lived
 * event on the ingest path then drags its fields through promotion and full collections (bench:detect's
 * toSigma + RuleSet.match ran ~30% slower than RuleSet.match alone). `new` objects are not pretenured.
 */
class MappedLogsource {
  constructor(
    readonly category: string,
    readonly product: string,
  ) {}
}

/** Keys in the order the object literal had (logsource, fields, entity), for anything that serializes it. */
class MappedEvent implements SigmaMappedEvent {
  readonly logsource: MappedLogsource;
  readonly fields: Record<string, unknown>;
  readonly entity: string;
  constructor(category: string, product: string, fields: Record<string, unknown>, entity: string) {
    this.logsource = new MappedLogsource(category, product);
    this.fields = fields;
    this.entity = entity;
  }
}

export function toSigma(event: VigilEvent, host: { platform: string }): SigmaMappedEvent | null {
  const product = sigmaProduct(host.platform);
  const mapped = (category: string, fields: Record<string, unknown>, entity: string): SigmaMappedEvent =>
    new MappedEvent(category, product, fields, entity);
  switch (event.type) {
    case 'process.start': {
      const data = event.data;
      return mapped('process_creation', processStart(data), processEntity(data.exe, data.name, data.pid));
    }
    case 'capture.packet_socket': {
      const data = event.data;
      const fields = compact({
        Kind: data.kind,
        Interface: data.interface,
        Protocol: data.protocol,
        ProcessId: data.pid,
        Image: data.exe,
        Name: data.name,
        CommandLine: data.cmdline,
        User: data.user,
        LogonUser: data.loginUser,
        Sha256: data.sha256,
      });
      return mapped('packet_capture', fields, processEntity(data.exe, data.name, data.pid));
    }
    case 'capture.promiscuous': {
      const data = event.data;
      const fields = compact({
        Interface: data.interface,
        Promiscuous: data.promiscuous,
        HolderImages: data.holders?.map((holder) => holder.exe),
        HolderNames: data.holders?.map((holder) => holder.name),
      });
      return mapped('promiscuous_interface', fields, data.interface);
    }
    case 'capture.driver': {
      const data = event.data;
      const fields = compact({
        DriverName: data.name,
        DisplayName: data.displayName,
        State: data.state,
        Path: data.path,
      });
      return mapped('capture_driver', fields, data.name);
    }
    case 'capture.file': {
      const data = event.data;
      const fields = compact({
        TargetFilename: data.path,
        Extension: data.extension,
        Size: data.size,
        User: data.owner,
        Image: data.exe,
        Name: data.name,
        ProcessId: data.pid,
      });
      return mapped('capture_file', fields, data.path);
    }
    case 'web.visit': {
      const data = event.data;
      const fields = compact({
        Browser: data.browser,
        Profile: data.profile,
        User: data.user,
        Host: data.host,
        Category: data.category,
        Url: data.url,
      });
      return mapped('web_visit', fields, data.host);
    }
    // Evidence the agent lost or could not keep: the loss itself must reach an analyst.
    case 'agent.spool_dropped': {
      const data = event.data;
      const fields = compact({
        Event: 'spool_dropped',
        Dropped: data.dropped,
        Reason: data.reason,
        Oldest: data.oldest,
        Newest: data.newest,
      });
      return new MappedEvent('agent_health', 'vigil', fields, 'spool');
    }
    case 'agent.error': {
      const data = event.data;
      const fields = { Event: 'error', Code: data.code, Message: data.message };
      return new MappedEvent('agent_health', 'vigil', fields, data.code);
    }
    default:
      // Heartbeat-like health reports and clean stops carry nothing to detect on.
      return null;
  }
}
