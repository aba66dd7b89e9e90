/**
 * CNI errors in the spec's JSON form (CNI 1.0/1.1 §"Error"): a code, a message, details.
 * Codes 1-99 are the spec's; 100+ are Tortie's own.
 */
export const CniErrorCode = {
  INCOMPATIBLE_VERSION: 1, UNSUPPORTED_FIELD: 2, CONTAINER_UNKNOWN: 3, INVALID_ENV: 4, IO: 5,
  DECODE: 6, INVALID_CONFIG: 7, TRY_AGAIN_LATER: 11, PLUGIN_NOT_AVAILABLE: 50,
  /** Tortie: IPAM could not give an address (pools exhausted, none matching). */
  IPAM_FAILED: 101,
  /** Tortie: the kernel refused part of the interface setup. */
  NETWORK_SETUP_FAILED: 102,
  /** Tortie: CHECK found something missing or different. */
  CHECK_FAILED: 103,
} as const;

export class CniError extends Error {
  constructor(readonly code: number, message: string, readonly details = '') {
    super(message);
    this.name = 'CniError';
  }

  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    return { cniVersion, code: this.code, msg: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}
