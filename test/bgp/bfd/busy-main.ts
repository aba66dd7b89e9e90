/**
 * Run by bfd-worker-liveness.test.ts inside a namespace: one BFD session (100 ms x 3) through the
 * real BfdDriver and worker, then the main thread blocked for BUSY_MS. Prints "UP" once the session
 * is Up and, after the block, one JSON line with the state changes seen and the session; then
 * waits to be killed.
 *   node busy-main.js PEER LOCAL BUSY_MS
 */
import { BfdDriver } from '../../../bgp/bfd/driver.js';
import type { BfdStateEvent } from '../../../bgp/bfd/engine.js';
import { silentLogger } from '../../../common/logger.js';

const [peer = '', local = '', busy = '0'] = process.argv.slice(2);
const driver = new BfdDriver({ logger: silentLogger() });
const events: BfdStateEvent[] = [];
driver.onState((e) => events.push(e));
driver.set('p', { peer, local, multihop: false, params: { desiredMinTxUs: 100_000, requiredMinRxUs: 100_000, detectMult: 3, passive: false } });
const deadline = Date.now() + 15_000;
for (;;) {
  if ((await driver.sessions())[0]?.state === 'Up') break;
  if (Date.now() > deadline) { process.stdout.write('NEVER UP\n'); process.exit(1); }
  await new Promise((r) => setTimeout(r, 50));
}
const upEvents = events.length;
process.stdout.write('UP\n');
// The main thread does nothing else for BUSY_MS: no timer, no message handler runs here.
const end = Date.now() + Number(busy);
let spins = 0;
while (Date.now() < end) spins++;
// A round trip through the worker delivers every state message it posted before answering.
const sessions = await driver.sessions();
process.stdout.write(`${JSON.stringify({ spins, eventsDuringBusy: events.slice(upEvents), session: sessions[0] })}\n`);
// Keeps running (the worker keeps the process alive) until the test kills it, so that no
// AdminDown reaches BIRD while the test still samples its view.
