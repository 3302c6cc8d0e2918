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

/** `err` itself if it is a CerberusError, else an INTERNAL one carrying its readable message (`errorMessage`). */
export function toCerberusError(err: unknown): CerberusError {
  return err instanceof CerberusError ? err : new CerberusError("INTERNAL", errorMessage(err), { cause: err });
}

/**
 * A readable message for anything thrown. Browsers reject a failed WebSocket with a DOM `Event`, which `String()`
 * turns into "[object Event]"; an AggregateError (a dial over several addresses) carries its causes in `errors`.
 */
export function errorMessage(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return `${err.message}: ${err.errors.map(errorMessage).join("; ")}`;
  }
  if (err instanceof Error) return err.message !== "" ? err.message : err.name;
  if (typeof err === "object" && err !== null && typeof (err as { type?: unknown }).type === "string") {
    const url = (err as { target?: { url?: unknown } | null }).target?.url;
    return `connection failed ("${(err as { type: string }).type}" event${typeof url === "string" ? ` from ${url}` : ""})`;
  }
  return String(err);
}
