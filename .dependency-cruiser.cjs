/**
 * The architecture rules, checked by test/architecture/dependencies.unit.test.ts
 * on every `npm test`, built from MODULES (test/architecture/modules.cjs), which
 * is the table in docs/architecture.md ("Where things are"); that test also
 * reads the table and fails when the two differ.
 *
 * Test code is outside the rules: `*.test.ts`, `testing/` helpers, `testing.ts`
 * files and the event store's contract suite assemble real parts of several
 * modules on purpose (a test harness is a composition root of its own).
 */

const { MODULES } = require('./test/architecture/modules.cjs');

/** Ambient type declarations (src/types/*.d.ts) are not a module anyone imports. */
const AMBIENT = ['types'];

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** The path pattern of a module: a folder under src/, or one top-level file. */
const place = (name) => (name.endsWith('.ts') ? `^src/${escape(name)}$` : `^src/${escape(name)}/`);
const anyOf = (names) => `(${names.map(place).join('|')})`;

const TEST_CODE = '(\\.test\\.ts$|/testing/|/testing\\.ts$|\\.contract\\.ts$)';

const tableRules = Object.entries(MODULES).map(([name, module]) => ({
  name: `${name}-imports-only-its-row`,
  comment: `${name} may import ${module.mayImport.length ? module.mayImport.join(', ') : 'nothing of ours'} (docs/architecture.md)`,
  severity: 'error',
  from: { path: place(name), pathNot: TEST_CODE },
  to: { path: '^src/', pathNot: anyOf([name, ...module.mayImport, ...AMBIENT]) },
}));

const internalsRules = Object.entries(MODULES)
  .filter(([, module]) => module.public !== null)
  .map(([name, module]) => ({
    name: `no-internals-of-${name}`,
    comment: `other modules import only ${name}'s public files: ${module.public.join(', ') || 'none'}`,
    severity: 'error',
    from: { pathNot: `(${place(name)}|${TEST_CODE})` },
    to: { path: place(name), pathNot: module.public.length ? `^src/${escape(name)}/(${module.public.map(escape).join('|')})$` : undefined },
  }))
  .map((rule) => (rule.to.pathNot === undefined ? { ...rule, to: { path: rule.to.path } } : rule));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'domain-imports-nothing-outside-itself',
      comment: 'src/domain is pure: no other folder, no npm package, no Node built-in (time, ids and randomness arrive in command metadata)',
      severity: 'error',
      from: { path: '^src/domain/', pathNot: TEST_CODE },
      to: { pathNot: '^src/domain/' },
    },
    {
      name: 'http-writes-no-sql',
      comment:
        'src/http holds no database: it may not import src/db, the SQL or EventStoreDB adapters, or a database driver; read models are reached through the queries src/projections hands it',
      severity: 'error',
      from: { path: '^src/http/', pathNot: TEST_CODE },
      to: { path: '(^src/db/|^src/event-store/(sql|eventstoredb)/|node_modules/(pg|pg-pool|pg-protocol|@electric-sql/pglite|@eventstore/db-client)/)' },
    },
    {
      name: 'no-circular',
      comment: 'no file reaches itself through its imports',
      severity: 'error',
      from: { pathNot: TEST_CODE },
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that resolves to nothing would hide a dependency from every other rule',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    ...tableRules,
    ...internalsRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: TEST_CODE },
    // Type-only imports count: a type from another module is a dependency on it all the same.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
