// Picks the OS readers for this machine. Only the current platform's modules are loaded.
import type { CaptureReader, ProcessSource } from './types.js';

export interface PlatformReaders {
  processes: ProcessSource;
  capture: CaptureReader;
}

export async function platformReaders(
  platform: NodeJS.Platform = process.platform,
): Promise<PlatformReaders> {
  switch (platform) {
    case 'linux': {
      const { createLinuxProcessLister } = await import('./linux/processes.js');
      const { LinuxCaptureReader } = await import('./linux/capture.js');
      return { processes: createLinuxProcessLister(), capture: new LinuxCaptureReader() };
    }
    case 'darwin': {
      const { createDarwinProcessLister } = await import('./darwin/processes.js');
      const { createDarwinCaptureReader } = await import('./darwin/capture.js');
      const processes = createDarwinProcessLister();
      // The lister lets bpf holders carry their exe and command line, not just lsof's short name.
      return { processes, capture: createDarwinCaptureReader({ processes }) };
    }
    case 'win32': {
      const { createWindowsBridge } = await import('./windows/powershell.js');
      const bridge = createWindowsBridge();
      return { processes: bridge.processes, capture: bridge.capture };
    }
    default:
      throw new Error(`vigil-agent does not support ${platform}`);
  }
}
