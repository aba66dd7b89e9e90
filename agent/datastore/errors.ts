import { TortieError } from '../../common/errors.js';
import type { KvEntry } from './kv-store.js';

/** Stable datastore error codes (the etcd v3 cases Calico distinguishes, robustness.md §5). */
export type DatastoreErrorCode =
  | 'already-exists' | 'not-found' | 'conflict' | 'compacted' | 'unavailable' | 'permission-denied' | 'invalid';

export class DatastoreError extends TortieError {
  override readonly code: DatastoreErrorCode;
  /** The value currently stored, when a CAS lost (conflict / already-exists). */
  readonly current: KvEntry | undefined;
  constructor(code: DatastoreErrorCode, message: string, options: { cause?: unknown; where?: string; current?: KvEntry } = {}) {
    super(code, message, options);
    this.name = 'DatastoreError';
    this.code = code;
    this.current = options.current;
  }
}

export function isDatastoreError(err: unknown, code?: DatastoreErrorCode): err is DatastoreError {
  return err instanceof DatastoreError && (code === undefined || err.code === code);
}
