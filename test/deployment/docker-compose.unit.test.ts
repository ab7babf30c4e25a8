/**
 * The compose files ship no secret and expose no insecure store. There is no
 * Docker engine here, so the files are parsed (YAML with anchors and merge keys
 * resolved, as compose does) and their values checked:
 * - every secret comes from the environment through `${NAME:?message}`, so
 *   compose refuses to start without it and says which one; never a default
 *   (`${NAME:-x}`), never an optional `${NAME}`, never a literal;
 * - a password inside a connection string is such a variable too;
 * - no EventStoreDB node that runs insecure publishes a port to the host.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

const ROOT = join(__dirname, '..', '..');
const FILES = ['docker-compose.yml', 'docker-compose.sandbox.yml'] as const;

type Service = { environment?: Record<string, unknown> | string[]; ports?: unknown[] };
type ComposeFile = { services?: Record<string, Service> };

const load = (file: string) => parse(readFileSync(join(ROOT, file), 'utf8'), { merge: true }) as ComposeFile;

/** A name that holds a secret: passwords, keys, tokens. */
const SECRET_NAME = /PASSWORD|(^|_)KEYS?$|SECRET|TOKEN/;
/** Compose interpolation: $NAME, ${NAME}, ${NAME:-x}, ${NAME-x}, ${NAME:?x}, ${NAME?x}, ${NAME:+x}. */
const INTERPOLATION = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g;

interface Use {
  readonly name: string;
  readonly operator: string | undefined;
  readonly text: string;
}

function interpolations(value: string): Use[] {
  return [...value.matchAll(INTERPOLATION)].map((match) => ({ name: match[1] ?? match[4]!, operator: match[2], text: match[3] ?? '' }));
}

function strings(node: unknown, path: string, found: Array<{ path: string; value: string }>): Array<{ path: string; value: string }> {
  if (typeof node === 'string') found.push({ path, value: node });
  else if (Array.isArray(node)) node.forEach((item, index) => strings(item, `${path}[${index}]`, found));
  else if (node && typeof node === 'object') for (const [key, value] of Object.entries(node)) strings(value, `${path}.${key}`, found);
  return found;
}

function environmentOf(service: Service): Record<string, string> {
  const environment = service.environment ?? {};
  if (Array.isArray(environment)) return Object.fromEntries(environment.map((entry) => [entry.split('=')[0]!, entry.slice(entry.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(environment).map(([name, value]) => [name, String(value)]));
}

/** A required variable with a message naming it: `${NAME:?set NAME to …}`. */
const isRequiredWithMessage = (use: Use) => (use.operator === ':?' || use.operator === '?') && use.text.includes(use.name);

describe.each(FILES)('%s', (file) => {
  const compose = load(file);
  const services = Object.entries(compose.services ?? {});

  it('when it names a secret variable anywhere, then as ${NAME:?message}: required, with a message naming it, never a default', () => {
    const wrong = strings(compose, file, [])
      .flatMap(({ path, value }) => interpolations(value).map((use) => ({ path, use })))
      .filter(({ use }) => SECRET_NAME.test(use.name) && !isRequiredWithMessage(use))
      .map(({ path, use }) => `${path}: \${${use.name}${use.operator ?? ''}${use.text}}`);
    expect(wrong).toEqual([]);
  });

  it('when a service sets a secret, then its value is a required variable, never a literal', () => {
    const wrong = services.flatMap(([name, service]) =>
      Object.entries(environmentOf(service))
        .filter(([variable]) => SECRET_NAME.test(variable))
        .filter(([, value]) => {
          const uses = interpolations(value);
          return uses.length !== 1 || !isRequiredWithMessage(uses[0]!) || value.replace(INTERPOLATION, '') !== '';
        })
        .map(([variable, value]) => `${name}.${variable}=${value}`),
    );
    expect(wrong).toEqual([]);
  });

  it('when a connection string carries a password, then that password is a required variable', () => {
    const credentials = strings(compose, file, []).flatMap(({ path, value }) => [...value.matchAll(/[a-z+]+:\/\/[^:/@\s]+:([^@\s]+)@/g)].map((match) => ({ path, password: match[1]! })));
    const wrong = credentials.filter(({ password }) => {
      const uses = interpolations(password);
      return uses.length !== 1 || !isRequiredWithMessage(uses[0]!) || password.replace(INTERPOLATION, '') !== '';
    });
    expect(wrong).toEqual([]);
  });

  it('when an EventStoreDB node runs insecure, then it publishes no port to the host; and no service publishes 2113 or 1113', () => {
    const insecureWithPorts = services
      .filter(([, service]) => {
        const environment = environmentOf(service);
        return environment['KURRENTDB_INSECURE'] === 'true' || environment['EVENTSTORE_INSECURE'] === 'true';
      })
      .filter(([, service]) => (service.ports ?? []).length > 0)
      .map(([name]) => name);
    expect(insecureWithPorts).toEqual([]);
    const storePorts = services.flatMap(([name, service]) =>
      (service.ports ?? [])
        .map((port) => (typeof port === 'object' && port !== null ? String((port as { target?: unknown }).target) : String(port).split(':').pop()!.split('/')[0]!))
        .filter((target) => target === '2113' || target === '1113')
        .map((target) => `${name}:${target}`),
    );
    expect(storePorts).toEqual([]);
  });
});

describe('docker-compose.yml', () => {
  it('when it is read, then the secrets it needs are exactly API_KEYS, POSTGRES_PASSWORD and BANK_API_KEY, and BANK_URL and TENANTS are required too', () => {
    const required = new Set(strings(load('docker-compose.yml'), '', []).flatMap(({ value }) => interpolations(value)).filter(isRequiredWithMessage).map((use) => use.name));
    expect([...required].sort()).toEqual(['API_KEYS', 'BANK_API_KEY', 'BANK_URL', 'POSTGRES_PASSWORD', 'TENANTS']);
  });

  it('when it is read, then it starts no sandbox bank: that lives in docker-compose.sandbox.yml, outside production', () => {
    const production = load('docker-compose.yml');
    expect(Object.keys(production.services ?? {})).not.toContain('bank-sandbox');
    const sandbox = load('docker-compose.sandbox.yml').services!['bank-sandbox']!;
    expect(environmentOf(sandbox)['NODE_ENV']).not.toBe('production');
    expect(sandbox.ports ?? []).toEqual([]);
  });
});
