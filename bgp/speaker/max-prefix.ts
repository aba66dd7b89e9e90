/**
 * The per-peer prefix limit (PeerConfig maxPrefixes) after an UPDATE, by maxPrefixAction:
 *   restart (default)  Cease/1 (RFC 4486), routes flushed; back after maxPrefixRestart seconds
 *                      when set (FRR `restart M`), else after the idle-hold back-off (5 → 30 s)
 *   warn               one warning per crossing of the limit, session and routes kept (FRR
 *                      `warning-only`, BIRD `action warn`); again after falling back under it
 *   disable            Cease/1 and the peer stays disabled until `enable` (BIRD `action disable`)
 * BIRD's `action block` (drop the prefixes over the limit, keep the session) is not offered.
 */
import type { Clock, TimerHandle } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { CeaseSubcode } from '../wire/errors.js';
import type { UpdateMessage } from '../wire/types.js';
import type { Peer } from './peer.js';

/** Warned sessions ('warn': once per crossing) and pending restarts, without fields on Peer. */
const warned = new WeakSet<object>();
const restarts = new WeakMap<Peer, TimerHandle>();

export interface MaxPrefixDeps {
  readonly clock: Clock;
  readonly log: Logger;
  /** False once the peer was removed (or the speaker stopped): a pending restart is dropped. */
  readonly current: (p: Peer) => boolean;
}

export function enforceMaxPrefixes(p: Peer, received: number, m: UpdateMessage, deps: MaxPrefixDeps): void {
  const max = p.config.maxPrefixes;
  const e = p.established;
  if (max === undefined || e === undefined) return;
  if (received <= max) { warned.delete(e); return; }
  const action = p.config.maxPrefixAction ?? 'restart';
  const peer = p.config.name;
  if (action === 'warn') {
    if (warned.has(e)) return;
    warned.add(e);
    deps.log.warn({ peer, max, received, action }, 'maximum prefixes exceeded: warning only, session and routes kept');
    return;
  }
  const restartAfter = action === 'restart' ? p.config.maxPrefixRestart : undefined;
  deps.log.warn({ peer, max, received, action, ...(restartAfter !== undefined ? { restartAfterSeconds: restartAfter } : {}) },
    'maximum prefixes exceeded: Cease/1');
  const fam = m.mpReach ? [m.mpReach.afi >>> 8, m.mpReach.afi & 255, m.mpReach.safi] : [0, 1, 1];
  const data = Uint8Array.of(...fam, max >>> 24, (max >>> 16) & 255, (max >>> 8) & 255, max & 255);
  const s = p.session;
  if (action === 'disable') p.enabled = false;
  s.automaticStop(CeaseSubcode.MAX_PREFIXES, { restart: action === 'restart' && restartAfter === undefined, data });
  if (restartAfter === undefined) return;
  restarts.get(p)?.cancel();
  restarts.set(p, deps.clock.setTimeout(() => {
    restarts.delete(p);
    if (deps.current(p) && p.session === s && p.enabled && s.state === 'Idle') s.start();
  }, restartAfter * 1000));
}
