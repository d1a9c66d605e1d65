// One error class per failure kind; `code` is stable so the CLI can map it to an exit status.

/** The service description is unusable (relative path, control characters, bad name...). */
export class ServiceSpecError extends Error {
  readonly code = 'SERVICE_SPEC_INVALID';
  override name = 'ServiceSpecError';
}

/** No service manager integration exists for this platform. */
export class UnsupportedPlatformError extends Error {
  readonly code = 'SERVICE_PLATFORM_UNSUPPORTED';
  override name = 'UnsupportedPlatformError';
}

/** A service-manager command (systemctl, launchctl, winsw) could not be run or failed. */
export class ServiceCommandError extends Error {
  readonly code = 'SERVICE_COMMAND_FAILED';
  override name = 'ServiceCommandError';
  constructor(
    message: string,
    readonly command: readonly string[],
    readonly exitCode: number | null,
    readonly output: string,
  ) {
    super(message);
  }
}
