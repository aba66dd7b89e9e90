/**
 * The key-value contract both backends implement (etcd v3 and in-memory): every write is a
 * compare-and-swap on the key's mod revision, lists carry the store revision they were read at,
 * and a prefix watch starts at an explicit revision (list at R, watch from R+1).
 */
export interface KvEntry {
  readonly key: string;
  readonly value: string;
  /** etcd mod_revision (int64 as a decimal string): the CAS token. */
  readonly modRevision: string;
  readonly createRevision: string;
  readonly lease?: string;
}

export type KvEvent =
  | { readonly type: 'put'; readonly entry: KvEntry }
  | { readonly type: 'delete'; readonly key: string; readonly modRevision: string };

export interface KvWatchHandlers {
  /** A batch of events; `revision` is the store revision after them. */
  onEvents(events: readonly KvEvent[], revision: string): void;
  /** The watch is over (compacted start revision, canceled, permission): re-list and watch again. */
  onError(err: Error): void;
  onConnectionChange?(connected: boolean): void;
}

export interface KvWatch { close(): Promise<void> }

export interface KvLease {
  readonly id: string;
  /** Called once if the lease is lost (expired or keep-alive failed); grant a new one. */
  onLost(cb: (err: Error) => void): void;
  revoke(): Promise<void>;
}

export interface KvWriteOptions { readonly lease?: KvLease }

/** One write of an atomic commit(): create (key absent) or update (key at a mod revision). */
export type KvTxnOp =
  | { readonly op: 'create'; readonly key: string; readonly value: string }
  | { readonly op: 'update'; readonly key: string; readonly value: string; readonly expectedModRevision: string };

export interface KvStore {
  get(key: string): Promise<KvEntry | undefined>;
  list(prefix: string): Promise<{ readonly entries: readonly KvEntry[]; readonly revision: string }>;
  /** Fails with `already-exists` (carrying the current entry) when the key exists. */
  create(key: string, value: string, options?: KvWriteOptions): Promise<KvEntry>;
  /** Fails with `not-found`, or `conflict` (carrying the current entry) on a revision mismatch. */
  update(key: string, value: string, expectedModRevision: string, options?: KvWriteOptions): Promise<KvEntry>;
  /**
   * Several creates/updates, all or none (one etcd txn, one revision). When a condition fails,
   * nothing is written and the error is the one that op alone would give (`already-exists`,
   * `conflict` with the current entry, `not-found`), with `where` = its key. Returns the entries
   * written, in the order given.
   */
  commit(ops: readonly KvTxnOp[]): Promise<KvEntry[]>;
  /** Deletes (CAS when a revision is given); returns the deleted entry. `not-found` when absent. */
  delete(key: string, expectedModRevision?: string): Promise<KvEntry>;
  watchPrefix(prefix: string, fromRevision: string, handlers: KvWatchHandlers): Promise<KvWatch>;
  /** A lease kept alive until revoked (or lost); `keepAlive: false` lets it expire after ttl. */
  grantLease(ttlSeconds: number, options?: { keepAlive?: boolean }): Promise<KvLease>;
  close(): Promise<void>;
}

/**
 * One candidate in a leader election (etcd's Election API: a key under a lease, the lowest
 * create revision leads). Leader from `onElected` until `onError` (lease lost: start a new
 * campaign) or `resign()`.
 */
export interface LeaderCampaign {
  onElected(cb: () => void): void;
  onError(cb: (err: Error) => void): void;
  resign(): Promise<void>;
}

/** Stores that can run an election (etcd); `election` names it, `value` identifies the candidate. */
export interface LeaderElection {
  campaign(election: string, value: string, ttlSeconds: number): LeaderCampaign;
}

/** The etcd range_end for "every key starting with prefix". */
export function prefixRangeEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if ((b[i] ?? 0xff) < 0xff) {
      const end = Buffer.from(b.subarray(0, i + 1));
      end[i] = (end[i] ?? 0) + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}
