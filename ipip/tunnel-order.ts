/**
 * Dependency order for tunnel dataplanes: tunnel device and VTEP entries before the routes that
 * use them; routes removed before the entries they used.
 *
 *   engine.applyAdds() ──► routeTable.setDesiredRoutes(routes()) + apply() ──► engine.applyRemovals()
 */
import type { RouteTable, ApplyResult } from '../felix/routes/route-table.js';
import type { DesiredRoute } from '../felix/routes/route.js';

export interface TunnelEngine {
  applyAdds(): Promise<void>;
  applyRemovals(): Promise<void>;
}

export async function applyInDependencyOrder(engine: TunnelEngine, routeTable: RouteTable,
  routes: () => Iterable<DesiredRoute>): Promise<ApplyResult> {
  await engine.applyAdds();
  routeTable.setDesiredRoutes(routes());
  const res = await routeTable.apply();
  // Only drop VTEP entries once no route of ours can point through them any more.
  if (res.failed === 0) await engine.applyRemovals();
  return res;
}
