/**
 * What the pools' encapsulation asks of this host besides routes: the pod MTU file for the CNI
 * plugin (host MTU minus the largest enabled overhead, calico-compat §3.6: VXLAN 50, over IPv6 70;
 * the UDP backend 28) and `tunl0` for IPIP
 * pools (a kernel without ipip gets the fixed IPIP_UNSUPPORTED_MESSAGE, retried every 30 s).
 */
import type { Clock } from '../../common/clock.js';
import type { Logger } from '../../common/logger.js';
import { describeError } from '../../common/errors.js';
import type { IpipManager } from '../../ipip/ipip-manager.js';
import { podMtu, type Encapsulation } from '../../ipip/mtu.js';
import type { PoolInfo } from '../calc/snapshot.js';

const enabled = (pools: readonly PoolInfo[], f: (p: PoolInfo) => boolean): boolean => pools.some((p) => !p.disabled && f(p));

export class PodMtuFile {
  /** The MTU last written (what the CNI plugin gets), undefined before the first write. */
  current: number | undefined;
  /** The host MTU as last detected; undefined = detect again on the next update. */
  private host: number | undefined;

  constructor(private readonly deps: { logger: Logger; write: (mtu: number, file: string) => Promise<void>; detectHostMtu: () => Promise<number> },
    private readonly file: string, hostMtu?: number) {
    this.host = hostMtu;
  }

  /**
   * The host MTU may have changed (the parent interface changed, the heartbeat): detect it again
   * on the next update, so new pods get what the tunnel device now has.
   */
  hostChanged(): void { this.host = undefined; }

  async update(pools: readonly PoolInfo[]): Promise<void> {
    if (this.host === undefined) {
      try { this.host = await this.deps.detectHostMtu(); } catch (err) {
        this.deps.logger.warn({ err: describeError(err) }, 'cannot detect the host MTU; keeping the pod MTU file as it is');
        return;
      }
    }
    const enc: Encapsulation[] = [];
    // VXLAN over IPv6 (an IPv6 pool with vxlanMode) costs 70 bytes, over IPv4 50: Felix takes the
    // smallest MTU of the enabled encapsulations, VXLANEnabledV6 included.
    const kernel = (p: PoolInfo): boolean => p.encapsulation !== 'udp';
    if (enabled(pools, (p) => kernel(p) && p.vxlanMode !== 'Never' && !p.cidr.includes(':'))) enc.push('vxlan');
    if (enabled(pools, (p) => kernel(p) && p.vxlanMode !== 'Never' && p.cidr.includes(':'))) enc.push('vxlan6');
    if (enabled(pools, (p) => kernel(p) && p.ipipMode !== 'Never')) enc.push('ipip');
    // The UDP backend (IPv4 underlay): IPv4 and UDP headers.
    if (enabled(pools, (p) => !kernel(p) && (p.vxlanMode !== 'Never' || p.ipipMode !== 'Never'))) enc.push('udp');
    const mtu = podMtu(this.host, enc);
    if (mtu === this.current) return;
    try {
      await this.deps.write(mtu, this.file);
      this.deps.logger.info({ mtu, hostMtu: this.host, file: this.file, encapsulations: enc }, 'wrote pod MTU');
      this.current = mtu;
    } catch (err) { this.deps.logger.error({ err: describeError(err), file: this.file }, 'cannot write the pod MTU file'); }
  }
}

export class IpipDevice {
  private state: { readonly ok: boolean; readonly at: number; readonly message?: string } | undefined;

  constructor(private readonly deps: { clock: Clock; logger: Logger }, private readonly mgr: IpipManager, private readonly retryMs = 30_000) {}

  /** undefined when no IPIP pool needs tunl0 or it is ready; else the problem, for logs and readiness. */
  async ensure(pools: readonly PoolInfo[]): Promise<string | undefined> {
    if (!enabled(pools, (p) => p.ipipMode !== 'Never' && p.encapsulation !== 'udp')) return undefined;
    const st = this.state;
    if (st?.ok === true) return undefined;
    if (st !== undefined && this.deps.clock.now() - st.at < this.retryMs) return `IPIP pool: ${st.message ?? 'tunl0 not ready'}`;
    try {
      await this.mgr.ensureDevice();
      this.state = { ok: true, at: this.deps.clock.now() };
      return undefined;
    } catch (err) {
      const message = describeError(err);
      this.state = { ok: false, at: this.deps.clock.now(), message };
      this.deps.logger.error({ err: message }, 'IPIP pool: cannot set up tunl0; IPIP routes stay pending');
      return `IPIP pool: ${message}`;
    }
  }
}
