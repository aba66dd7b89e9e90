/** Operational errors of the RIB API (misuse by the embedding program), with a stable code. */
export type RibErrorCode = 'duplicate-peer' | 'local-origin-protected';

export class RibError extends Error {
  constructor(readonly code: RibErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RibError';
  }
}
