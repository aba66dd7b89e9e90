/** The UDP backend's counters appear at scrape time with their reasons, and vanish while it is off. */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { createMetricsRegistry, renderMetrics } from '../../../felix/metrics/metrics-registry.js';
import { registerUdpBackendMetrics, type UdpBackendCounters } from '../../../felix/metrics/udp-backend-metrics.js';

test('UDP backend metrics mirror the data path counters read at scrape time', async () => {
  const registry = createMetricsRegistry();
  let counters: UdpBackendCounters | undefined = { txPackets: 5, txBytes: 500, rxPackets: 7, rxBytes: 700, dropNoRoute: 1, dropUnknownSource: 2,
    dropMalformed: 3, dropTtl: 0, dropSendQueue: 0, tunWriteErrors: 0, sendErrors: 0 };
  registerUdpBackendMetrics(registry, () => counters);
  const body = (await renderMetrics(registry)).body;
  for (const line of ['tortie_udp_backend_packets_total{direction="tx"} 5', 'tortie_udp_backend_packets_total{direction="rx"} 7',
    'tortie_udp_backend_bytes_total{direction="rx"} 700', 'tortie_udp_backend_drops_total{reason="unknown_source"} 2',
    'tortie_udp_backend_drops_total{reason="malformed"} 3']) assert.ok(body.includes(line), `${line} in\n${body}`);
  counters = { ...counters, txPackets: 9 };
  assert.ok((await renderMetrics(registry)).body.includes('tortie_udp_backend_packets_total{direction="tx"} 9'));
  counters = undefined;
  assert.ok(!(await renderMetrics(registry)).body.includes('tortie_udp_backend_packets_total{'));
});
