/**
 * Per-prefix state keyed by path id (RFC 7911 ADD-PATH), kept as a single value for the usual
 * one path per prefix and a collection only when a peer sends several: the Adj-RIB-In's rejected
 * markers (a Rejected or an array of them) and its graceful-restart stale marks (`true` for path
 * id 0 alone, else the set of stale path ids).
 */
import type { PathAttributes } from '../wire/types.js';

/** A path refused on import; keeps what was received (shared per UPDATE) so refilter() can look again. */
export class Rejected { constructor(readonly pathId: number, readonly received: PathAttributes, readonly nextHop: Uint8Array | undefined) {} }
/** Rejected markers of one prefix (one per path id). */
export type Slot = Rejected | Rejected[];

/** The rejected marker of `pathId`. */
export function find(slot: Slot | undefined, pathId: number): Rejected | undefined {
  if (slot === undefined) return undefined;
  if (Array.isArray(slot)) return slot.find((p) => p.pathId === pathId);
  return slot.pathId === pathId ? slot : undefined;
}

/** The slot with `item` in it (replacing the marker of its path id). */
export function put(slot: Slot | undefined, item: Rejected): Slot {
  if (slot === undefined) return item;
  if (!Array.isArray(slot)) return slot.pathId === item.pathId ? item : [slot, item];
  const i = slot.findIndex((p) => p.pathId === item.pathId);
  if (i >= 0) slot[i] = item; else slot.push(item);
  return slot;
}

/** The slot without `pathId`'s marker; undefined when none is left. */
export function remove(slot: Slot, pathId: number): Slot | undefined {
  if (!Array.isArray(slot)) return slot.pathId === pathId ? undefined : slot;
  const rest = slot.filter((p) => p.pathId !== pathId);
  return rest.length === 0 ? undefined : rest.length === 1 ? rest[0] : rest;
}

/** A stale entry with path `pathId` added: `true` stands for path id 0 alone (no ADD-PATH). */
export function staleWith(m: true | Set<number> | undefined, pathId: number): true | Set<number> {
  if (pathId === 0 && (m === undefined || m === true)) return true;
  const ids = m instanceof Set ? m : new Set<number>(m === true ? [0] : []);
  ids.add(pathId);
  return ids;
}

/** A stale entry without path `pathId` (it was re-sent or withdrawn); undefined when none is left. */
export function staleWithout(m: true | Set<number>, pathId: number): true | Set<number> | undefined {
  if (m === true) return pathId === 0 ? undefined : m;
  m.delete(pathId);
  return m.size === 0 ? undefined : m;
}
