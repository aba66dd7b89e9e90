/**
 * BfdDriver without sockets: a stand-in worker script that dies on its first start shows the
 * driver restarting it and re-adding every session; stop() asks for the AdminDown shutdown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BfdDriver } from '../../../bgp/bfd/driver.js';
import { silentLogger } from '../../../common/logger.js';
import { pollUntil } from '../../helpers/poll.js';

test('a worker that dies is restarted with every session re-added; stop() sends shutdown', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tortie-bfd-driver-'));
  try {
    const marker = join(dir, 'started-once');
    const log = join(dir, 'messages');
    // First start: record and die. Later starts: keep the sessions added and answer list/shutdown.
    writeFileSync(join(dir, 'worker.mjs'), `
      import { parentPort } from 'node:worker_threads';
      import { existsSync, writeFileSync, appendFileSync } from 'node:fs';
      if (!existsSync(${JSON.stringify(marker)})) { writeFileSync(${JSON.stringify(marker)}, '1'); process.exit(3); }
      const ids = [];
      parentPort.on('message', (m) => {
        appendFileSync(${JSON.stringify(log)}, m.type + '\\n');
        if (m.type === 'add') ids.push(m.id);
        if (m.type === 'list') parentPort.postMessage({ type: 'list', req: m.req, sessions: ids.map((id) => ({ id, state: 'Down' })) });
        if (m.type === 'shutdown') parentPort.postMessage({ type: 'done', req: m.req });
      });
    `);
    const d = new BfdDriver({ logger: silentLogger(), workerPath: join(dir, 'worker.mjs') });
    const params = { desiredMinTxUs: 1e5, requiredMinRxUs: 1e5, detectMult: 3, passive: false };
    d.set('a', { peer: '10.0.0.1', multihop: false, params });
    d.set('b', { peer: 'fd00::1', multihop: true, params });
    await pollUntil(() => existsSync(marker), { what: 'first worker started' });
    const ids = await pollUntil(async () => { const s = await d.sessions(); return s.length === 2 ? s.map((x) => x.id) : false; },
      { what: 'restarted worker has both sessions', timeoutMs: 5000 });
    assert.deepEqual(ids.sort(), ['a', 'b']);
    await d.stop();
    assert.match(readFileSync(log, 'utf8'), /^add\nadd\n(list\n)*shutdown\n$/, 'both sessions re-added, then the shutdown');
    assert.deepEqual(await d.sessions(), [], 'stopped: no worker to ask');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
