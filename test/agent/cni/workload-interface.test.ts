/**
 * createWorkloadInterface's process spawns, against a recording fake exec (logic only; the real
 * kernel path is test/agent/cni/plugin.test.ts). bench/e2e/RESULTS.md says the plugin makes the
 * veth with 2 spawns instead of 5: one `ip -batch` for the host side, one `nsenter ... ip -batch`
 * for the container side, and looks at which name is taken only when the kernel says one is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWorkloadInterface, type ExecResult, type InterfaceDeps, type WorkloadInterfaceSpec } from '../../../agent/cni/workload-interface.js';
import { CniError } from '../../../agent/cni/cni-error.js';

const spec: WorkloadInterfaceSpec = {
  netns: '/var/run/netns/pod1', ifname: 'eth0', hostIfname: 'cali0123456789a', mtu: 1450,
  addresses: ['10.244.1.5/32'], containerMac: '02:00:00:00:00:01',
};

/** Records every exec; `answer` decides each result (default: success). */
function fake(answer: (cmd: string, args: readonly string[], n: number) => ExecResult = () => ({ status: 0, stdout: '', stderr: '' })): { deps: InterfaceDeps; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    deps: {
      exec: (cmd, args) => { calls.push([cmd, ...args].join(' ')); return answer(cmd, args, calls.length); },
      writeFile: () => undefined,
      exists: () => true,
    },
  };
}

test('a fresh ADD spawns 2 processes: the host-side batch (veth + up) and the container-side batch', () => {
  const { deps, calls } = fake();
  createWorkloadInterface(deps, spec);
  assert.deepEqual(calls, ['ip -batch -', `nsenter --net=${spec.netns} ip -batch -`]);
});

test('a host side left by an earlier sandbox: looked at only after the kernel says "exists", deleted, then the batch again', () => {
  // 1: host batch fails (exists); 2: container-side name check (absent); 3: host-side name check
  // (present); 4: its delete; 5: host batch again; 6: container-side batch.
  const { deps, calls } = fake((cmd, args, n) => {
    if (n === 1) return { status: 2, stdout: '', stderr: 'RTNETLINK answers: File exists' };
    if (n === 2) return { status: 1, stdout: '', stderr: 'Device "eth0" does not exist.' };
    return { status: 0, stdout: '', stderr: '' };
  });
  createWorkloadInterface(deps, spec);
  assert.deepEqual(calls, [
    'ip -batch -',
    `nsenter --net=${spec.netns} ip link show dev eth0`,
    `ip link show dev ${spec.hostIfname}`,
    `ip link del dev ${spec.hostIfname}`,
    'ip -batch -',
    `nsenter --net=${spec.netns} ip -batch -`,
  ]);
});

test('any other host-side failure is a CniError naming the interface and the kernel\'s message, with no retry', () => {
  const { deps, calls } = fake(() => ({ status: 2, stdout: '', stderr: 'RTNETLINK answers: Operation not permitted' }));
  assert.throws(() => createWorkloadInterface(deps, spec), (e: unknown) => e instanceof CniError
    && e.message.includes(spec.hostIfname) && e.message.includes('Operation not permitted'));
  assert.equal(calls.length, 1);
});
