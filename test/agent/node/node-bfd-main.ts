/**
 * Run by node-bfd.test.ts inside a namespace: tortie-node's BFD (NodeBfd) asked for one session
 * (100 ms x 3) with the process engine on a socket nothing serves. With `start` it starts
 * tortie-bfd as tortie-node does (agent/node/bfd-process.ts); with `missing` starting it fails,
 * so NodeBfd must fall back to the worker thread. Prints "UP <peer>" when NodeBfd reports the
 * session Up (its bfdUp callback), and its log lines (JSON) on stdout; then waits to be killed.
 *   node node-bfd-main.js PEER LOCAL SOCKET start|missing
 */
import { pino } from 'pino';
import { NodeBfd } from '../../../agent/node/node-bfd.js';
import { startBfdProcess } from '../../../agent/node/bfd-process.js';

const [peer = '', local = '', socket = '', how = 'missing'] = process.argv.slice(2);
const logger = pino({ level: 'info' }, pino.destination({ fd: 1, sync: true }));
const bfd = new NodeBfd({
  logger,
  bfdDown: () => false,
  bfdUp: (id) => { process.stdout.write(`UP ${id}\n`); },
  engine: { kind: 'process', socket, graceMs: 2000, startProcess: () => (how === 'start' ? startBfdProcess(socket, 2000) : false) },
});
bfd.apply(new Map([['p', { peer, local, multihop: false, params: { desiredMinTxUs: 100_000, requiredMinRxUs: 100_000, detectMult: 3, passive: false } }]]));
setInterval(() => {}, 1 << 30);
