import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { metricsRegistry } from './metrics';

describe('the Grafana dashboard (docs/grafana-dashboard.json)', () => {
  it('queries only families this code exposes', async () => {
    const dashboard = JSON.parse(readFileSync(join(__dirname, '..', '..', 'docs', 'grafana-dashboard.json'), 'utf8')) as { panels: Array<{ targets: Array<{ expr: string }> }> };
    const exposed = new Set((await metricsRegistry.getMetricsAsJSON()).map((family) => family.name));
    const queried = dashboard.panels.flatMap((panel) => panel.targets.flatMap((target) => target.expr.match(/\b(http|event_store|gateway|projector|relay|payment|refund)_[a-z_]+/g) ?? []));
    expect(queried.length).toBeGreaterThan(10);
    const family = (name: string) => name.replace(/_(bucket|count|sum)$/, '');
    expect(queried.map(family).filter((name) => !exposed.has(name))).toEqual([]);
  });
});
