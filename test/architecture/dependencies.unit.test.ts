/**
 * The architecture test: dependency-cruiser walks every import under src/ with
 * the rules of .dependency-cruiser.cjs (built from test/architecture/modules.cjs),
 * and the module table in docs/architecture.md must say what those rules say.
 * It runs in `npm test` like any other suite, so a boundary crossed fails CI.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const CRUISER = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const { MODULES } = require('./modules.cjs') as { MODULES: Record<string, { mayImport: string[]; public: string[] | null }> };

interface CruiseResult {
  readonly summary: { readonly violations: ReadonlyArray<{ readonly from: string; readonly to: string; readonly rule: { readonly name: string } }>; readonly totalCruised: number };
  readonly modules: ReadonlyArray<{ readonly source: string; readonly dependencies: ReadonlyArray<{ readonly resolved: string }> }>;
}

function cruise(): CruiseResult {
  // Rationale: a child process, because dependency-cruiser is an ES module and jest runs these suites as CommonJS.
  const run = spawnSync(process.execPath, [CRUISER, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.error) throw run.error;
  if (!run.stdout.trim().startsWith('{')) throw new Error(`dependency-cruiser gave no report (exit ${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout) as CruiseResult;
}

/** The module a file belongs to: its folder under src/, or the top-level file itself. */
function moduleOf(path: string): string | undefined {
  const match = /^src\/([^/]+)(\/|$)/.exec(path);
  if (!match) return undefined;
  return match[1];
}

/** Module-level edges, each with one import that makes it, for the failure message. */
function moduleEdges(result: CruiseResult): Map<string, Map<string, string>> {
  const edges = new Map<string, Map<string, string>>();
  for (const file of result.modules) {
    const from = moduleOf(file.source);
    if (!from) continue;
    for (const dependency of file.dependencies) {
      const to = moduleOf(dependency.resolved);
      if (!to || to === from || to === 'types') continue;
      if (!edges.has(from)) edges.set(from, new Map());
      if (!edges.get(from)!.has(to)) edges.get(from)!.set(to, `${file.source} -> ${dependency.resolved}`);
    }
  }
  return edges;
}

/** Every cycle between modules, as the path around it (depth-first, each cycle once from its smallest member). */
function moduleCycles(edges: Map<string, Map<string, string>>): string[][] {
  const cycles: string[][] = [];
  const walk = (start: string, at: string, path: string[]) => {
    for (const next of edges.get(at)?.keys() ?? []) {
      if (next === start) cycles.push([...path, start]);
      else if (!path.includes(next) && next > start) walk(start, next, [...path, next]);
    }
  };
  for (const start of [...edges.keys()].sort()) walk(start, start, [start]);
  return cycles;
}

/** The "Where things are" table: folder, what it may import, what others may import of it. */
function documentedTable(): Map<string, { mayImport: string[]; public: string[] | null }> {
  const text = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');
  const section = text.slice(text.indexOf('## Where things are'));
  const rows = new Map<string, { mayImport: string[]; public: string[] | null }>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    // | `src/x` | holds | may import | others may import |
    if (cells.length < 6 || !/^`src\/[^`]+`$/.test(cells[1]!)) continue;
    const ticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]!.replace(/^src\//, ''));
    const name = ticked(cells[1]!)[0]!;
    rows.set(name, { mayImport: ticked(cells[3]!).sort(), public: cells[4] === 'all' ? null : ticked(cells[4]!).sort() });
  }
  return rows;
}

describe('the architecture (dependency-cruiser over src/)', () => {
  let result: CruiseResult;
  beforeAll(() => {
    result = cruise();
  });

  it('when every import is cruised, then none breaks a rule of .dependency-cruiser.cjs', () => {
    expect(result.summary.totalCruised).toBeGreaterThan(100);
    expect(result.summary.violations.map((violation) => `${violation.rule.name}: ${violation.from} -> ${violation.to}`)).toEqual([]);
  });

  it('when imports are grouped by folder, then no two folders import each other and there is no cycle between folders', () => {
    const edges = moduleEdges(result);
    const twoWay = [...edges].flatMap(([from, targets]) => [...targets.keys()].filter((to) => from < to && edges.get(to)?.has(from)).map((to) => `${from} <-> ${to}: ${targets.get(to)} / ${edges.get(to)!.get(from)}`));
    expect(twoWay).toEqual([]);
    expect(moduleCycles(edges).map((cycle) => cycle.join(' -> '))).toEqual([]);
    // The graph is not empty by accident: the API does depend on the application layer.
    expect(edges.get('http')?.has('application')).toBe(true);
  });

  it('when the module table in docs/architecture.md is read, then it says exactly what the rules say', () => {
    const documented = documentedTable();
    expect([...documented.keys()].sort()).toEqual(Object.keys(MODULES).sort());
    for (const [name, module] of Object.entries(MODULES)) {
      expect({ name, ...documented.get(name) }).toEqual({ name, mayImport: [...module.mayImport].sort(), public: module.public && [...module.public].sort() });
    }
  });

  it('when the rules are built, then every module may import only modules that exist, and the table of imports is acyclic', () => {
    const names = new Set(Object.keys(MODULES));
    for (const module of Object.values(MODULES)) for (const target of module.mayImport) expect(names.has(target)).toBe(true);
    const allowed = new Map(Object.entries(MODULES).map(([name, module]) => [name, new Map(module.mayImport.map((target) => [target, 'allowed']))]));
    expect(moduleCycles(allowed).map((cycle) => cycle.join(' -> '))).toEqual([]);
  });
});
