import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, readCoreConfig } from './index';
import { ApiKeysRequired } from './core';
import { describeSections } from './env';
import { DOCUMENTED_SECTIONS } from '../processes/print-config-docs';

const load = (env: NodeJS.ProcessEnv) => loadConfig({ core: readCoreConfig }, env).core;

describe('configuration', () => {
  it('when nothing is set, then the embedded defaults apply', () => {
    expect(load({})).toMatchObject({ port: 3000, eventStore: 'pglite', dataDir: './data', amountMajorMax: 1_000_000, logLevel: 'info', apiKeys: undefined });
  });

  it('when values are wrong, then start-up is refused with every offending variable named', () => {
    let error: unknown;
    try {
      load({ PORT: 'eighty', EVENT_STORE: 'mysql', LOG_LEVEL: 'loud', API_KEYS: '{not json' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of ['PORT', 'EVENT_STORE', 'LOG_LEVEL', 'API_KEYS']) expect(message).toContain(name);
  });

  it('when the store is postgres or eventstoredb, then its connection strings are required', () => {
    expect(() => load({ EVENT_STORE: 'postgres' })).toThrow(/DATABASE_URL: required/);
    expect(() => load({ EVENT_STORE: 'eventstoredb', DATABASE_URL: 'postgres://h/db' })).toThrow(/EVENTSTORE_URL: required/);
    expect(() => load({ EVENT_STORE: 'eventstoredb', DATABASE_URL: 'postgres://h/db', EVENTSTORE_URL: 'http://x' })).toThrow(/EVENTSTORE_URL/);
  });

  it('when NODE_ENV is production on the embedded store, then start-up is refused (PGlite does not sync to disk); postgres is accepted', () => {
    const apiKeys = JSON.stringify([{ key: 'k'.repeat(32), role: 'client', tenant: 'acme' }]);
    expect(() => load({ NODE_ENV: 'production', API_KEYS: apiKeys })).toThrow(/EVENT_STORE: pglite is refused when NODE_ENV=production/);
    expect(() => load({ NODE_ENV: 'production', API_KEYS: apiKeys, EVENT_STORE: 'pglite' })).toThrow(/does not sync its writes to disk/);
    expect(() => load({ NODE_ENV: 'production', API_KEYS: apiKeys, EVENT_STORE: 'postgres', DATABASE_URL: 'postgres://h/db' })).not.toThrow();
    expect(() => load({ NODE_ENV: 'development' })).not.toThrow();
  });

  it('when NODE_ENV is production without API_KEYS, then start-up is refused (no demo keys in production)', () => {
    expect(() => load({ NODE_ENV: 'production' })).toThrow(/API_KEYS: required when NODE_ENV=production/);
  });

  it('when API_KEYS is unset on the embedded store outside production, then the demo keys may be seeded (apiKeys undefined)', () => {
    for (const nodeEnv of ['development', 'test']) {
      expect(load({ NODE_ENV: nodeEnv }).apiKeys).toBeUndefined();
      expect(load({ NODE_ENV: nodeEnv, EVENT_STORE: 'pglite' }).apiKeys).toBeUndefined();
    }
  });

  it.each([
    ['postgres', { EVENT_STORE: 'postgres', DATABASE_URL: 'postgres://h/db' }],
    ['eventstoredb', { EVENT_STORE: 'eventstoredb', DATABASE_URL: 'postgres://h/db', EVENTSTORE_URL: 'esdb://h:2113?tls=false' }],
  ])('when API_KEYS is unset with EVENT_STORE=%s, then no demo keys: the setting is a refusal naming API_KEYS and the store', (store, env) => {
    for (const nodeEnv of ['development', 'test']) {
      const { apiKeys } = load({ ...env, NODE_ENV: nodeEnv });
      expect(apiKeys).toBeInstanceOf(ApiKeysRequired);
      expect((apiKeys as ApiKeysRequired).problem).toBe(`API_KEYS: required when EVENT_STORE=${store} (the demo keys are seeded only on the embedded pglite store, outside production)`);
    }
  });

  it('when API_KEYS is set on a server store, then those keys are the setting', () => {
    const keys = [{ key: 'k'.repeat(20), role: 'client', tenant: 'acme' }];
    expect(load({ EVENT_STORE: 'postgres', DATABASE_URL: 'postgres://h/db', API_KEYS: JSON.stringify(keys) }).apiKeys).toEqual(keys);
  });

  it.each(['pglite', 'postgres'])('when NODE_ENV is production with EVENT_STORE=%s and no API_KEYS, then start-up is refused for every process', (store) => {
    expect(() => load({ NODE_ENV: 'production', EVENT_STORE: store, DATABASE_URL: 'postgres://h/db' })).toThrow(/API_KEYS: required when NODE_ENV=production/);
  });

  it('when API_KEYS is given, then each entry is checked: a client names a tenant, staff name none, keys are long', () => {
    const keys = [{ key: 'k'.repeat(20), role: 'client', tenant: 'acme' }, { key: 'o'.repeat(20), role: 'operator' }];
    expect(load({ API_KEYS: JSON.stringify(keys) }).apiKeys).toHaveLength(2);
    expect(() => load({ API_KEYS: JSON.stringify([{ key: 'k'.repeat(20), role: 'client' }]) })).toThrow(/API_KEYS/);
    expect(() => load({ API_KEYS: JSON.stringify([{ key: 'short', role: 'analyst' }]) })).toThrow(/API_KEYS/);
  });

  it('when the README lists the configuration, then it is exactly what the code defines (npm run config:docs -- --write)', () => {
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    expect(readme).toContain(describeSections(DOCUMENTED_SECTIONS));
  });
});
