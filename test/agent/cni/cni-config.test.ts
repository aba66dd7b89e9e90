/** The plugin's parsing of Calico's IPAM requests: the network configuration's `ipam` section and CNI_ARGS `IP=`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNetworkConfig, requestedIps } from '../../../agent/cni/cni-config.js';
import { CniError } from '../../../agent/cni/cni-error.js';

const conf = (ipam: unknown): string => JSON.stringify({ cniVersion: '1.0.0', name: 'k8s-pod-network', type: 'tortie', ipam });
const refused = (fn: () => unknown, code: number, re: RegExp): void => {
  assert.throws(fn, (e: unknown) => e instanceof CniError && e.code === code && re.test(e.message));
};

test('ipam section: ipv4_pools / ipv6_pools (names or CIDRs), assign_ipv4 / assign_ipv6 as Calico writes them', () => {
  assert.deepEqual(parseNetworkConfig(conf({ type: 'calico-ipam' })).ipam, {});
  assert.deepEqual(parseNetworkConfig(conf(undefined)).ipam, {});
  assert.deepEqual(parseNetworkConfig(conf({ type: 'calico-ipam', ipv4_pools: ['blue', '10.5.0.0/24'], ipv6_pools: [], assign_ipv4: 'false', assign_ipv6: 'true' })).ipam,
    { ipv4Pools: ['blue', '10.5.0.0/24'], assignIpv4: false, assignIpv6: true });
  refused(() => parseNetworkConfig(conf({ ipv4_pools: 'blue' })), 7, /"ipam\.ipv4_pools" must be a list of IP pool names or CIDRs/);
  refused(() => parseNetworkConfig(conf({ ipv6_pools: [''] })), 7, /"ipam\.ipv6_pools"/);
  refused(() => parseNetworkConfig(conf({ assign_ipv6: true })), 7, /"ipam\.assign_ipv6" must be "true" or "false", got true/);
  refused(() => parseNetworkConfig(conf({ assign_ipv4: 'false', assign_ipv6: 'false' })), 7, /no address to assign/);
  refused(() => parseNetworkConfig(conf(['x'])), 7, /"ipam" must be an object/);
});

test('CNI_ARGS IP=: one address, or one per family', () => {
  assert.equal(requestedIps({}), undefined);
  assert.equal(requestedIps({ IP: '' }), undefined);
  assert.deepEqual(requestedIps({ IP: '10.5.0.7' }), ['10.5.0.7']);
  assert.deepEqual(requestedIps({ IP: '10.5.0.7,fd00::7' }), ['10.5.0.7', 'fd00::7']);
  refused(() => requestedIps({ IP: '10.5.0.7,10.5.0.8' }), 4, /at most one IPv4 address/);
  refused(() => requestedIps({ IP: '10.5.0.300' }), 4, /"10\.5\.0\.300" is not an IP address/);
});
