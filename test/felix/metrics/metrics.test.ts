/** Metrics: a private registry per call; exposition text carries the series after updates. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegistry } from 'prom-client';
import { createMetricsRegistry, renderMetrics } from '../../../felix/metrics/metrics-registry.js';
import { DataplaneMetrics } from '../../../felix/metrics/dataplane-metrics.js';
import { BgpMetrics } from '../../../felix/metrics/bgp-metrics.js';
import { IpamMetrics } from '../../../felix/metrics/ipam-metrics.js';

test('dataplane metrics appear in the exposition text with labels and values', async () => {
  const reg = createMetricsRegistry({ defaultLabels: { node: 'n1' } });
  const m = new DataplaneMetrics(reg);
  m.setRoutesProgrammed(254, 'blackhole', 3);
  m.observeApply('routes', 0.02);
  m.countResync('rules', 'refresh');
  m.countRepair('rules', 'drift');
  m.countError('rules', 'rules-apply-failed');
  m.observeRulesApply('nft', 0.004);
  m.setRuleCount('nft', 4, 12);
  m.setSetElements('all-hosts-net', 4, 250);
  const { body, contentType } = await renderMetrics(reg);
  assert.match(contentType, /text\/plain/);
  for (const line of [
    'tortie_route_table_num_routes{table="254",kind="blackhole",node="n1"} 3',
    'tortie_dataplane_apply_time_seconds_count{node="n1",component="routes"} 1',
    'tortie_dataplane_apply_time_seconds_bucket{le="0.05",node="n1",component="routes"} 1',
    'tortie_dataplane_resyncs_total{component="rules",reason="refresh",node="n1"} 1',
    'tortie_dataplane_repairs_total{component="rules",kind="drift",node="n1"} 1',
    'tortie_dataplane_errors_total{component="rules",kind="rules-apply-failed",node="n1"} 1',
    'tortie_rules_apply_time_seconds_bucket{le="0.005",node="n1",backend="nft"} 1',
    'tortie_rules{backend="nft",family="4",node="n1"} 12',
    'tortie_rule_set_elements{set="all-hosts-net",family="4",node="n1"} 250',
  ]) assert.ok(body.includes(line), `missing ${line}\n${body}`);
  assert.equal((await globalRegistry.metrics()).includes('tortie_'), false, 'global default registry untouched');
});

test('BGP metrics: state, flaps counted on leaving Established, prefixes, removal', async () => {
  const reg = createMetricsRegistry();
  const b = new BgpMetrics(reg);
  b.setSessionState('10.0.0.2', 'Active');
  let text = await reg.metrics();
  assert.ok(text.includes('tortie_bgp_session_flaps_total{peer="10.0.0.2"} 0'), text);
  b.setSessionState('10.0.0.2', 'Established');
  b.setPrefixes('10.0.0.2', 'ipv4-unicast', { received: 10, accepted: 8, advertised: 4 });
  b.countUpdate('10.0.0.2', 'in', 3);
  b.setSessionState('10.0.0.2', 'Idle');
  b.setSessionState('10.0.0.2', 'Established');
  b.setSessionState('10.0.0.2', 'Established');
  text = await reg.metrics();
  for (const line of [
    'tortie_bgp_session_state{peer="10.0.0.2"} 6',
    'tortie_bgp_session_established{peer="10.0.0.2"} 1',
    'tortie_bgp_session_flaps_total{peer="10.0.0.2"} 1',
    'tortie_bgp_prefixes_received{peer="10.0.0.2",afi_safi="ipv4-unicast"} 10',
    'tortie_bgp_prefixes_accepted{peer="10.0.0.2",afi_safi="ipv4-unicast"} 8',
    'tortie_bgp_prefixes_advertised{peer="10.0.0.2",afi_safi="ipv4-unicast"} 4',
    'tortie_bgp_updates_total{peer="10.0.0.2",direction="in"} 3',
  ]) assert.ok(text.includes(line), `missing ${line}\n${text}`);
  b.removePeer('10.0.0.2');
  assert.equal((await reg.metrics()).includes('10.0.0.2'), false);
  // Two registries never share series.
  const other = createMetricsRegistry({ collectDefault: true });
  new BgpMetrics(other);
  assert.match(await other.metrics(), /tortie_process_cpu_user_seconds_total/);
});

test('IPAM metrics (Calico kube-controllers names): this node\'s allocations per pool, borrowed ones, its blocks', async () => {
  const reg = createMetricsRegistry();
  const m = new IpamMetrics(reg);
  const pools = [{ name: 'default-ipv4-ippool', cidr: '10.244.0.0/16' }, { name: 'other', cidr: '10.99.0.0/16' }];
  m.update('n1', pools, [
    { cidr: '10.244.0.0/26', node: 'n1', allocations: [{ node: 'n1' }, { node: 'n1' }, { node: 'n2' }] },
    { cidr: '10.244.0.64/26', node: 'n2', allocations: [{ node: 'n2' }, { node: 'n1' }] },
    { cidr: '10.244.0.128/26', node: 'n1', allocations: [] },
    { cidr: '10.99.0.0/26', node: 'n3', allocations: [{ node: 'n3' }] },
  ]);
  const { body } = await renderMetrics(reg);
  for (const line of [
    'ipam_allocations_in_use{ippool="default-ipv4-ippool",node="n1"} 3',
    'ipam_allocations_borrowed{ippool="default-ipv4-ippool",node="n1"} 1',
    'ipam_blocks{ippool="default-ipv4-ippool",node="n1"} 2',
    'ipam_allocations_in_use{ippool="other",node="n1"} 0',
  ]) assert.ok(body.includes(`${line}\n`), `missing ${line}\n${body}`);
  assert.doesNotMatch(body, /node="n[23]"/, 'only this node\'s series');
});

test('BGP peer-less totals: sessions per state and prefix sums, for meshes too large for per-peer series', async () => {
  const reg = createMetricsRegistry();
  const m = new BgpMetrics(reg);
  m.setTotals([
    { state: 'Established', afiSafi: 'ipv4_unicast', prefixes: { received: 3, accepted: 2, advertised: 5 } },
    { state: 'Established', afiSafi: 'ipv4_unicast', prefixes: { received: 1, accepted: 1, advertised: 5 } },
    { state: 'Active', afiSafi: 'ipv4_unicast', prefixes: { received: 0, accepted: 0, advertised: 0 } },
  ]);
  const { body } = await renderMetrics(reg);
  for (const line of ['tortie_bgp_sessions{state="Established"} 2', 'tortie_bgp_sessions{state="Active"} 1', 'tortie_bgp_sessions{state="Idle"} 0',
    'tortie_bgp_prefixes{afi_safi="ipv4_unicast",kind="received"} 4', 'tortie_bgp_prefixes{afi_safi="ipv4_unicast",kind="advertised"} 10',
  ]) assert.ok(body.includes(`${line}\n`), `missing ${line}\n${body}`);
  assert.doesNotMatch(body, /\{peer=/);
});
