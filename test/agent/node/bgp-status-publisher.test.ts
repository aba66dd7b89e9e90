/**
 * Cluster-wide `tortiectl node status --all` against a real etcd: two nodes' publishers
 * (agent/node/bgp-status-publisher.ts) write their BGP status, the real tortiectl prints every
 * node's sessions from one place; a change is published, a stopped node disappears, a bad entry
 * is named and skipped.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { EtcdServer, etcdSkipReason } from '../../helpers/etcd.js';
import { pollUntil } from '../../helpers/poll.js';
import { EtcdKvStore } from '../../../agent/datastore/etcd-kv-store.js';
import { bgpStatusKey } from '../../../agent/datastore/key-layout.js';
import { BgpStatusPublisher } from '../../../agent/node/bgp-status-publisher.js';
import type { NodeStatusResponse } from '../../../agent/ctl/node-status-protocol.js';
import { silentLogger } from '../../../common/logger.js';
import { systemClock } from '../../../common/clock.js';

const MAIN = new URL('../../../agent/ctl/main.js', import.meta.url).pathname;
const skip = etcdSkipReason();

describe('tortiectl node status --all (every node, from the datastore)', { skip }, () => {
  let etcd: EtcdServer;
  let store: EtcdKvStore;
  const publishers: BgpStatusPublisher[] = [];
  const run = (args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> => new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { env: { PATH: process.env['PATH'] ?? '', ETCD_ENDPOINTS: etcd.endpoint }, encoding: 'utf8' },
      (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr }));
  });

  before(async () => {
    etcd = await EtcdServer.start();
    store = await EtcdKvStore.connect({ endpoints: [etcd.endpoint] }, { logger: silentLogger() });
  });
  after(async () => {
    for (const p of publishers) await p.stop();
    await store?.close();
    await etcd?.stop();
  });

  it('shows each node\'s sessions, follows changes, drops a node that stopped, names a bad entry', async () => {
    const empty = await run(['node', 'status', '--all']);
    assert.equal(empty.code, 1);
    assert.match(empty.stdout, /No node has published its BGP status/);

    let a: NodeStatusResponse = { ok: true, processRunning: true, peers: [
      { peerIP: '10.0.0.2', family: 4, type: 'node-to-node mesh', state: 'up', since: '10:00:01', info: 'Established' },
      { peerIP: 'fd00::2', family: 6, type: 'global', state: 'start', since: '10:00:02', info: 'Active Socket: Connection refused' },
    ] };
    const b: NodeStatusResponse = { ok: true, processRunning: false, peers: [] };
    const pa = new BgpStatusPublisher({ store, clock: systemClock, logger: silentLogger() }, 'node-a', () => a, { checkMs: 50 });
    const pb = new BgpStatusPublisher({ store, clock: systemClock, logger: silentLogger() }, 'node-b', () => b, { checkMs: 50 });
    publishers.push(pa, pb);
    pa.start();
    pb.start();

    let out = '';
    await pollUntil(async () => { out = (await run(['node', 'status', '--all'])).stdout; return /Node node-b/.test(out); }, { what: 'both nodes listed', timeoutMs: 15_000 });
    assert.match(out, /^Node node-a \(status from \d+ s ago\)\n\nIPv4 BGP status\n/m);
    assert.match(out, /\| 10\.0\.0\.2 +\| node-to-node mesh \| up +\| 10:00:01 \| Established +\|/);
    assert.match(out, /IPv6 BGP status\n.*\n.*PEER ADDRESS[\s\S]*\| fd00::2 +\| global +\| start \| 10:00:02 \| Active Socket: Connection refused \|/);
    assert.match(out, /^Node node-b \(status from \d+ s ago\)\nThe BGP backend process is not running\.$/m);
    assert.ok(out.indexOf('Node node-a') < out.indexOf('Node node-b'), 'by node name');

    // a change is published at the next check, not at the refresh
    a = { ok: true, processRunning: true, peers: [{ peerIP: '10.0.0.2', family: 4, type: 'node-to-node mesh', state: 'start', since: '10:05:00', info: 'Connect' }] };
    await pollUntil(async () => /\| 10\.0\.0\.2 +\| node-to-node mesh \| start \| 10:05:00 \| Connect/.test((await run(['node', 'status', '--all'])).stdout),
      { what: 'node-a\'s change seen', timeoutMs: 15_000 });

    // a node that stops (lease revoked) is no longer listed; a malformed entry is named and skipped
    await pb.stop();
    await store.create(bgpStatusKey('node-x'), '{not json');
    const r = await pollUntil(async () => { const x = await run(['node', 'status', '--all']); return /Node node-b/.test(x.stdout) ? undefined : x; },
      { what: 'node-b gone', timeoutMs: 15_000 });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Node node-a/);
    assert.match(r.stderr, /node node-x: malformed status in \/tortie\/status\/v1\/node-x\/bgp \(not JSON\); skipped/);
    assert.ok(pa.stats.writes >= 2 && pa.stats.failures === 0, JSON.stringify(pa.stats));
  });
});
