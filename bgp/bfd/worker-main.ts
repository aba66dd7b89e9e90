/**
 * The BFD worker thread of tortie-bgpd: the engine host (engine-host.ts) in its own V8 isolate
 * and event loop, so neither RIB work, GC nor a control command on the main thread delays a
 * packet. Talks to the main thread (driver.ts, transport.ts) by messages only.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createEngineHost } from './engine-host.js';
import type { EngineOptions, FromEngine, ToEngine } from './engine-protocol.js';

const port = parentPort;
if (isMainThread || !port) throw new Error('bfd worker-main must run in a worker thread');
const host = createEngineHost((workerData ?? {}) as EngineOptions, (m: FromEngine) => port.postMessage(m));
port.on('message', (m: ToEngine) => host.handle(m));
