/**
 * The one base class for every error Cerberus raises on purpose. `code` is stable and machine-readable (it is what
 * crosses the wire in error replies and what tests assert); `message` is for people.
 */
export class CerberusError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export function isCerberusError(err: unknown, code?: string): err is CerberusError {
  return err instanceof CerberusError && (code === undefined || err.code === code);
}
