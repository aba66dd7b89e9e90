/** The pod MTU file and tunl0 as the pools' encapsulation asks (agent/node/tunnel-devices.ts). */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { IpipDevice, PodMtuFile } from '../../../agent/node/tunnel-devices.js';
import type { PoolInfo } from '../../../agent/calc/snapshot.js';
import type { IpipManager } from '../../../ipip/ipip-manager.js';
import { createLogger } from '../../../common/logger.js';
import { systemClock } from '../../../common/clock.js';

const pool = (cidr: string, extra: Partial<PoolInfo> = {}): PoolInfo => ({
  name: `pool-${cidr}`, cidr, blockSize: 26, vxlanMode: 'Never', ipipMode: 'Never', natOutgoing: true, disabled: false, disableBGPExport: false, ...extra,
});

test('pod MTU: the UDP backend costs 28 bytes, and a UDP pool needs neither VXLAN nor tunl0', async () => {
  const written: number[] = [];
  const logger = createLogger('t', 'silent');
  const f = new PodMtuFile({ logger, write: async (m) => { written.push(m); }, detectHostMtu: async () => 1500 }, '/dev/null', 1500);
  await f.update([pool('10.244.0.0/16', { vxlanMode: 'CrossSubnet', encapsulation: 'udp' })]);
  await f.update([pool('10.244.0.0/16', { vxlanMode: 'CrossSubnet' })]);
  assert.deepEqual(written, [1472, 1450]);
  const ipip = new IpipDevice({ clock: systemClock, logger }, { ensureDevice: async () => { throw new Error('no ipip here'); } } as unknown as IpipManager);
  assert.equal(await ipip.ensure([pool('10.244.0.0/16', { ipipMode: 'Always', encapsulation: 'udp' })]), undefined);
});
