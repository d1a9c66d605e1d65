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
      return { processes: createDarwinProcessLister(), capture: createDarwinCaptureReader() };
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
