/**
 * A prom-client registry per process, made by the agent; library code never touches prom-client's
 * global default registry. `collectDefault` adds process/nodejs metrics (Felix's
 * prometheusProcessMetricsEnabled) into this registry only.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

/** FelixConfiguration prometheusMetricsPort default; host "" means all interfaces. */
export const DEFAULT_METRICS_PORT = 9091;

export interface MetricsRegistryOptions {
  readonly collectDefault?: boolean;
  /** Labels on every series, e.g. `{ node: 'node-1' }`. */
  readonly defaultLabels?: Readonly<Record<string, string>>;
}

export function createMetricsRegistry(options: MetricsRegistryOptions = {}): Registry {
  const registry = new Registry();
  if (options.defaultLabels !== undefined) registry.setDefaultLabels({ ...options.defaultLabels });
  if (options.collectDefault === true) collectDefaultMetrics({ register: registry, prefix: 'tortie_' });
  return registry;
}

/** Exposition text and its content type, for the /metrics handler. */
export async function renderMetrics(registry: Registry): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}
