import { PassThrough } from 'node:stream';
import { createLogger, prettyLogsWanted } from './logging';

function capture() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  return { stream, text: () => text };
}

describe('logs', () => {
  it('given a terminal in development, then lines are pretty; given a pipe, test or production, then JSON', () => {
    expect(prettyLogsWanted({ isTTY: true }, 'development')).toBe(true);
    expect(prettyLogsWanted({ isTTY: true }, undefined)).toBe(true);
    expect(prettyLogsWanted({ isTTY: false }, 'development')).toBe(false);
    expect(prettyLogsWanted({}, 'development')).toBe(false);
    expect(prettyLogsWanted({ isTTY: true }, 'production')).toBe(false);
    expect(prettyLogsWanted({ isTTY: true }, 'test')).toBe(false);
  });

  it('when pretty, then one readable line per entry, with IBANs still masked and keys still removed', () => {
    const out = capture();
    const logger = createLogger({ level: 'info', name: 'paystream', pretty: true, destination: out.stream });
    logger.info({ iban: 'DE89370400440532013000', apiKey: 'secret-key-0000001', paymentId: 'inv-1' }, 'payment accepted');
    const lines = out.text().trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/INFO.*paystream.*payment accepted/);
    expect(lines[0]).toContain('inv-1');
    expect(lines[0]).toContain('****3000');
    expect(out.text()).not.toContain('DE89370400440532013000');
    expect(out.text()).not.toContain('secret-key-0000001');
    expect(() => JSON.parse(lines[0]!)).toThrow();
  });

  it('when not pretty, then each line is JSON with the same redaction', async () => {
    const out = capture();
    const logger = createLogger({ level: 'info', destination: out.stream });
    logger.info({ iban: 'DE89370400440532013000' }, 'hello');
    await new Promise((resolve) => setImmediate(resolve));
    const entry = JSON.parse(out.text().trim()) as Record<string, unknown>;
    expect(entry).toMatchObject({ msg: 'hello', iban: '****3000', level: 30 });
  });
});
