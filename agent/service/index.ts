export { ServiceCommandError, ServiceSpecError, UnsupportedPlatformError } from './errors.js';
export {
  installService,
  parseActiveState,
  type ServiceChange,
  type ServiceInstallOptions,
  type ServiceStatus,
  serviceFilePath,
  serviceStatus,
  uninstallService,
} from './install.js';
export { launchdPlist } from './launchd.js';
export { launchdLabel, type ServicePlatform, type ServiceSpec, validateServiceSpec } from './spec.js';
export { AGENT_CAPABILITIES, systemdUnit } from './systemd.js';
export { winswXml } from './winsw.js';
