import { TortieError } from '../../common/errors.js';

export type IpamErrorCode = 'ipam-no-pool' | 'ipam-exhausted' | 'ipam-invalid' | 'ipam-retries-exhausted' | 'ipam-stale-sequence'
  /** A requested pool that does not exist, is disabled, of the other family or not for this use. */
  | 'ipam-unknown-pool'
  /** A requested address that is outside every enabled pool, already assigned, or in another node's block under strictAffinity. */
  | 'ipam-address-unavailable';

/** IPAM failures with a stable code (the CNI maps `ipam-*` to its IPAM error). */
export class IpamError extends TortieError {
  override readonly code: IpamErrorCode;
  constructor(code: IpamErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'IpamError';
    this.code = code;
  }
}
