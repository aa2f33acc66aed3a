/** Base class of the SCP's errors: a stable `code`, a `name`, an optional `cause`. */
export class ScpError extends Error {
  public readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Configuration is invalid; `problems` names every wrong variable. */
export class ConfigError extends ScpError {
  constructor(public readonly problems: readonly string[]) {
    super('ERR_CONFIG', `invalid configuration: ${problems.join('; ')}`);
  }
}

/** The peer broke the DICOM upper-layer protocol (PS3.8); the association is aborted. */
export class ProtocolError extends ScpError {
  constructor(message: string, code = 'ERR_PROTOCOL') {
    super(code, message);
  }
}

/** The storage sink could not make an instance durable. */
export class StorageError extends ScpError {
  constructor(message: string, options?: { cause?: unknown }, code = 'ERR_STORAGE') {
    super(code, message, options);
  }
}
