/**
 * The module table of docs/architecture.md, as data: .dependency-cruiser.cjs
 * builds its rules from it and test/architecture/dependencies.unit.test.ts
 * checks the document says the same.
 *
 * - mayImport: the folders (and top-level files) a module's code may import.
 *   The lists are acyclic, so no two folders import each other.
 * - public: the files other modules may import; everything else is internal.
 *   null means every file is public (the domain, the shared pieces).
 */

/** @type {Record<string, { mayImport: string[]; public: string[] | null }>} */
const MODULES = {
  domain: { mayImport: [], public: null },
  shared: { mayImport: [], public: null },
  'logging.ts': { mayImport: ['shared'], public: null },
  'random-ids.ts': { mayImport: [], public: null },
  // Metrics families (prom-client) and the business counters; every module that measures imports them.
  observability: { mayImport: ['domain'], public: ['metrics.ts', 'business.ts'] },
  db: { mayImport: [], public: ['database.ts', 'errors.ts', 'migrations.ts'] },
  config: { mayImport: ['domain'], public: ['index.ts', 'core.ts', 'env.ts', 'tenants.ts', 'all-in-one.ts'] },
  'event-store': {
    mayImport: ['db', 'config', 'logging.ts', 'observability'],
    // The EventStoreDB adapter is public for the gateway's consumer-group feeder, which needs its client and event mapping.
    public: ['port.ts', 'open.ts', 'eventstoredb/eventstoredb-event-store.ts', 'eventstoredb/mapping.ts'],
  },
  application: {
    mayImport: ['domain', 'event-store', 'shared', 'logging.ts', 'observability'],
    public: ['payments.ts', 'refunds.ts', 'operator-actions.ts', 'approvals.ts', 'idempotency.ts', 'transfer-reservations.ts', 'bank-evidence.ts', 'errors.ts', 'event-envelope.ts', 'stream-state-cache.ts'],
  },
  projections: {
    mayImport: ['domain', 'application', 'event-store', 'db', 'config', 'shared', 'logging.ts', 'observability'],
    public: ['module.ts', 'config.ts', 'freshness.ts', 'read-models/queries.ts'],
  },
  'bank-gateway': {
    mayImport: ['domain', 'application', 'event-store', 'db', 'config', 'shared', 'logging.ts', 'observability'],
    public: ['module.ts', 'config.ts', 'work-queue.ts'],
  },
  relay: {
    mayImport: ['domain', 'application', 'event-store', 'db', 'config', 'shared', 'logging.ts', 'observability'],
    public: ['module.ts', 'config.ts'],
  },
  'bank-sandbox': { mayImport: ['db', 'config', 'shared', 'logging.ts', 'random-ids.ts'], public: ['module.ts', 'config.ts'] },
  http: {
    mayImport: ['domain', 'application', 'event-store', 'config', 'projections', 'bank-gateway', 'shared', 'logging.ts', 'random-ids.ts', 'observability'],
    public: ['module.ts', 'health-server.ts', 'auth.ts'],
  },
  processes: {
    mayImport: ['domain', 'application', 'event-store', 'db', 'config', 'projections', 'bank-gateway', 'relay', 'bank-sandbox', 'http', 'shared', 'logging.ts', 'random-ids.ts'],
    // What the all-in-one shares with the other entry files.
    public: ['run.ts', 'welcome.ts'],
  },
  'main.ts': {
    mayImport: ['domain', 'application', 'event-store', 'db', 'config', 'projections', 'bank-gateway', 'relay', 'bank-sandbox', 'http', 'processes', 'shared', 'logging.ts', 'random-ids.ts'],
    public: [],
  },
};

module.exports = { MODULES };
