/**
 * The production UpdateGroup (bgp/rib/update-group.ts) seen one member at a time, for RIB tests:
 * drain() flushes the group and returns, expanded, what this member was given since its last
 * drain (the speaker encodes and sends the same batches; see bgp/speaker/outbound.ts).
 */
import { formatPrefix, type Prefix } from '../../common/prefix.js';
import type { ExportedAttributes, ExportTarget } from '../../bgp/rib/export.js';
import type { BestChanges } from '../../bgp/rib/loc-rib.js';
import type { LocRib } from '../../bgp/rib/loc-rib.js';
import { expandBatch, UpdateGroup } from '../../bgp/rib/update-group.js';

export interface Drained {
  readonly announce: Array<{ attrs: ExportedAttributes; prefixes: Prefix[] }>;
  readonly withdraw: Prefix[];
}

export class GroupMember {
  constructor(private readonly group: TestUpdateGroup, readonly id: string) {}
  drain(): Drained { return this.group.drainMember(this.id); }
  /** Prefixes advertised to it now. */
  get size(): number { return this.group.ug.advertised(this.id); }
  /** Whether a drain() now would give it anything. */
  get hasPending(): boolean { return this.group.pendingFor(this.id); }
  /** Route refresh: it is given the whole table again (the Loc-RIB it was added with). */
  resendAll(): void { this.group.resend(this.id); }
}

export class TestUpdateGroup {
  readonly ug: UpdateGroup;
  private readonly queues = new Map<string, Drained[]>();
  private readonly ribs = new Map<string, LocRib>();
  /** What each member has been given as of its last drain, by prefix text. */
  private readonly given = new Map<string, Map<string, Prefix>>();

  constructor(target: ExportTarget, families?: { readonly v4: boolean; readonly v6: boolean }) {
    this.ug = new UpdateGroup(target, families);
  }

  apply(changes: BestChanges): void { this.ug.apply(changes); }

  /** A new member; with `rib` it is given the current table (as the speaker does at Established). */
  addMember(id: string, rib?: LocRib): GroupMember {
    this.flush();
    this.ug.addMember(id);
    const q: Drained[] = [];
    this.queues.set(id, q);
    if (rib) { this.ribs.set(id, rib); q.push(expandBatch(this.ug.table(id, rib))); }
    return new GroupMember(this, id);
  }

  pendingFor(id: string): boolean {
    this.flush();
    const had = this.given.get(id);
    return (this.queues.get(id) ?? []).some((d) => d.announce.length > 0 || d.withdraw.some((w) => had?.has(formatPrefix(w)) === true));
  }

  resend(id: string): void {
    const rib = this.ribs.get(id);
    if (!rib) throw new Error(`member ${id} was added without a Loc-RIB: nothing to resend from`);
    this.flush();
    this.queues.get(id)?.push(expandBatch(this.ug.table(id, rib)));
  }

  removeMember(id: string): void { this.flush(); this.ug.removeMember(id); this.queues.delete(id); this.given.delete(id); }

  member(id: string): GroupMember | undefined { return this.queues.has(id) ? new GroupMember(this, id) : undefined; }

  /**
   * The member's batches since its last drain, netted in order into one (what a receiver would
   * end up with): last word per prefix, a withdrawal only for what it had been given before.
   */
  drainMember(id: string): Drained {
    this.flush();
    const q = this.queues.get(id) ?? [];
    this.queues.set(id, []);
    const had = this.given.get(id) ?? new Map<string, Prefix>();
    this.given.set(id, had);
    const last = new Map<string, { prefix: Prefix; attrs: ExportedAttributes | undefined }>();
    for (const d of q) {
      for (const w of d.withdraw) last.set(formatPrefix(w), { prefix: w, attrs: undefined });
      for (const a of d.announce) for (const x of a.prefixes) last.set(formatPrefix(x), { prefix: x, attrs: a.attrs });
    }
    const byAttrs = new Map<ExportedAttributes, Prefix[]>();
    const withdraw: Prefix[] = [];
    for (const [k, v] of last) {
      if (v.attrs === undefined) { if (had.delete(k)) withdraw.push(v.prefix); continue; }
      had.set(k, v.prefix);
      const list = byAttrs.get(v.attrs);
      if (list) list.push(v.prefix); else byAttrs.set(v.attrs, [v.prefix]);
    }
    return { announce: [...byAttrs].map(([attrs, prefixes]) => ({ attrs, prefixes })), withdraw };
  }

  private flush(): void {
    this.ug.flush((id, b) => { this.queues.get(id)?.push(expandBatch(b)); });
  }
}
