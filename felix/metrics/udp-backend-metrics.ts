/**
 * The UDP backend's counters (ipip/udp-datapath.ts keeps them in its worker and posts them every
 * second): read from the tunnel at scrape time, so they are Prometheus counters mirroring totals
 * kept elsewhere rather than incremented here.
 */
import { Counter, type Registry } from 'prom-client';

/** The counters as the data path keeps them (ipip/udp-datapath.ts DatapathStats). */
export interface UdpBackendCounters {
  readonly txPackets: number; readonly txBytes: number; readonly rxPackets: number; readonly rxBytes: number;
  readonly dropNoRoute: number; readonly dropUnknownSource: number; readonly dropMalformed: number; readonly dropTtl: number;
  readonly dropSendQueue: number; readonly tunWriteErrors: number; readonly sendErrors: number;
}

export function registerUdpBackendMetrics(registry: Registry, read: () => UdpBackendCounters | undefined): void {
  const registers = [registry];
  new Counter({ name: 'tortie_udp_backend_packets_total', help: 'Inner packets carried by the UDP backend (tx: TUN to UDP, rx: UDP to TUN)',
    labelNames: ['direction'], registers,
    collect() { const s = read(); this.reset(); if (s !== undefined) { this.inc({ direction: 'tx' }, s.txPackets); this.inc({ direction: 'rx' }, s.rxPackets); } } });
  new Counter({ name: 'tortie_udp_backend_bytes_total', help: 'Inner bytes carried by the UDP backend', labelNames: ['direction'], registers,
    collect() { const s = read(); this.reset(); if (s !== undefined) { this.inc({ direction: 'tx' }, s.txBytes); this.inc({ direction: 'rx' }, s.rxBytes); } } });
  new Counter({ name: 'tortie_udp_backend_drops_total', help: 'Packets the UDP backend dropped, by reason', labelNames: ['reason'], registers,
    collect() {
      const s = read();
      this.reset();
      if (s === undefined) return;
      const reasons: Array<[string, number]> = [['no_route', s.dropNoRoute], ['unknown_source', s.dropUnknownSource], ['malformed', s.dropMalformed],
        ['ttl', s.dropTtl], ['send_queue', s.dropSendQueue], ['tun_write', s.tunWriteErrors], ['send_error', s.sendErrors]];
      for (const [reason, n] of reasons) this.inc({ reason }, n);
    } });
}
