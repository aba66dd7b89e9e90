/**
 * The agent's one netlink handle, shared by the route table, VXLAN/IPIP engines, MTU detection
 * and the agent itself. The kernel runs one dump per netlink socket at a time (a second one
 * fails with EBUSY, and the package then loses track: ESOCKET), so dumps are queued here, one
 * after another; other requests pass straight through. See /work/tasks/requests.md (felix/netlink).
 */
import type { Netlink } from '../../felix/netlink/types.js';

export function serializeDumps(inner: Netlink): Netlink {
  let tail: Promise<unknown> = Promise.resolve();
  const queued = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
  return {
    listLinks: () => queued(() => inner.listLinks()),
    getLink: (name) => queued(() => inner.getLink(name)),
    addLink: (spec) => inner.addLink(spec),
    deleteLink: (index) => inner.deleteLink(index),
    setLink: (index, change) => inner.setLink(index, change),
    listAddresses: (family) => queued(() => inner.listAddresses(family)),
    addAddress: (e) => inner.addAddress(e),
    deleteAddress: (e) => inner.deleteAddress(e),
    listRoutes: (family, table, protocol) => queued(() => inner.listRoutes(family, table, protocol)),
    replaceRoute: (r) => inner.replaceRoute(r),
    deleteRoute: (r) => inner.deleteRoute(r),
    applyRoutes: (ops) => inner.applyRoutes(ops),
    listNeighbours: (family, ifindex) => queued(() => inner.listNeighbours(family, ifindex)),
    setNeighbour: (e) => inner.setNeighbour(e),
    deleteNeighbour: (e) => inner.deleteNeighbour(e),
    listFdb: (ifindex) => queued(() => inner.listFdb(ifindex)),
    setFdb: (e) => inner.setFdb(e),
    deleteFdb: (e) => inner.deleteFdb(e),
    subscribe: (handler) => inner.subscribe(handler),
    close: () => inner.close(),
  };
}
