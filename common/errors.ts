/**
 * Operational errors: a stable `code` string, a human message that says what went wrong,
 * where (file, field path, peer) and what to do, and a chained `cause`.
 */
export class TortieError extends Error {
  readonly code: string;
  readonly where: string | undefined;
  constructor(code: string, message: string, options: { cause?: unknown; where?: string } = {}) {
    super(options.where === undefined ? message : `${options.where}: ${message}`,
      options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TortieError';
    this.code = code;
    this.where = options.where;
  }
}

/** A short, one-line description of any thrown value, for logs and CLI output. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
