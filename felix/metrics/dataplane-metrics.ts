/**
 * Metrics the dataplane layers update (route tables, rules, tunnels). Names follow Felix's where a
 * counterpart exists (calico-compat §3.10), with the `tortie_` prefix.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type DataplaneComponent = 'routes' | 'rules' | 'ipip' | 'vxlan' | 'links' | (string & {});

export class DataplaneMetrics {
  private readonly routes: Gauge<'table' | 'kind'>;
  private readonly applyTime: Histogram<'component'>;
  private readonly resyncs: Counter<'component' | 'reason'>;
  private readonly repairs: Counter<'component' | 'kind'>;
  private readonly errors: Counter<'component' | 'kind'>;
  private readonly rulesApply: Histogram<'backend'>;
  private readonly rules: Gauge<'backend' | 'family'>;
  private readonly setElements: Gauge<'set' | 'family'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.routes = new Gauge({ name: 'tortie_route_table_num_routes', help: 'Routes programmed by Tortie, by table and kind',
      labelNames: ['table', 'kind'], registers });
    this.applyTime = new Histogram({ name: 'tortie_dataplane_apply_time_seconds', help: 'Duration of a dataplane apply',
      labelNames: ['component'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers });
    this.resyncs = new Counter({ name: 'tortie_dataplane_resyncs_total', help: 'Full resyncs with the kernel, by reason',
      labelNames: ['component', 'reason'], registers });
    this.repairs = new Counter({ name: 'tortie_dataplane_repairs_total', help: 'Drift found in the kernel and repaired',
      labelNames: ['component', 'kind'], registers });
    this.errors = new Counter({ name: 'tortie_dataplane_errors_total', help: 'Dataplane errors, by kind',
      labelNames: ['component', 'kind'], registers });
    this.rulesApply = new Histogram({ name: 'tortie_rules_apply_time_seconds', help: 'Duration of one rules write (nft -f / iptables-restore)',
      labelNames: ['backend'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers });
    this.rules = new Gauge({ name: 'tortie_rules', help: 'Rules in chains Tortie owns', labelNames: ['backend', 'family'], registers });
    this.setElements = new Gauge({ name: 'tortie_rule_set_elements', help: 'Elements in sets Tortie owns',
      labelNames: ['set', 'family'], registers });
  }

  setRoutesProgrammed(table: string | number, kind: string, count: number): void {
    this.routes.set({ table: String(table), kind }, count);
  }
  observeApply(component: DataplaneComponent, seconds: number): void {
    this.applyTime.observe({ component }, seconds);
  }
  countResync(component: DataplaneComponent, reason: string): void {
    this.resyncs.inc({ component, reason });
  }
  countRepair(component: DataplaneComponent, kind: string): void {
    this.repairs.inc({ component, kind });
  }
  countError(component: DataplaneComponent, kind: string): void {
    this.errors.inc({ component, kind });
  }
  observeRulesApply(backend: string, seconds: number): void {
    this.rulesApply.observe({ backend }, seconds);
  }
  setRuleCount(backend: string, family: 4 | 6, count: number): void {
    this.rules.set({ backend, family: String(family) }, count);
  }
  setSetElements(set: string, family: 4 | 6, count: number): void {
    this.setElements.set({ set, family: String(family) }, count);
  }
}
