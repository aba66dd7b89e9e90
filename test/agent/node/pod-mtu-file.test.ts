/** PodMtuFile: the pod MTU the CNI plugin reads follows the pools and the host MTU. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PodMtuFile } from '../../../agent/node/tunnel-devices.js';
import type { PoolInfo } from '../../../agent/calc/snapshot.js';
import { silentLogger } from '../../../common/logger.js';

const vxlanPool: PoolInfo = { name: 'p', cidr: '10.244.0.0/16', blockSize: 26, vxlanMode: 'Always', ipipMode: 'Never',
  natOutgoing: true, disabled: false, disableBGPExport: false };

test('the pod MTU file follows a host MTU change once told (parent link event, heartbeat); a failed detection keeps the file', async () => {
  let host = 1500;
  let failDetect = false;
  const written: number[] = [];
  const f = new PodMtuFile({ logger: silentLogger(), write: async (mtu) => { written.push(mtu); },
    detectHostMtu: async () => { if (failDetect) throw new Error('netlink down'); return host; } }, '/unused', 1500);
  await f.update([vxlanPool]);
  assert.deepEqual(written, [1450]);
  host = 9000;
  await f.update([vxlanPool]);
  assert.deepEqual(written, [1450], 'no re-detection on every sync');
  f.hostChanged();
  await f.update([vxlanPool]);
  assert.deepEqual([written, f.current], [[1450, 8950], 8950]);
  failDetect = true;
  f.hostChanged();
  await f.update([vxlanPool]);
  assert.equal(f.current, 8950, 'a failed detection keeps what the CNI plugin has');
  failDetect = false;
  host = 1400;
  await f.update([]);
  assert.deepEqual(written, [1450, 8950, 1400], 'no encapsulation: the host MTU itself');
});
