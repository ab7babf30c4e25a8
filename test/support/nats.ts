/**
 * NATS for tests: our own nats-server process (JetStream on, its store in a
 * temporary folder, a free port) that a test may SIGKILL and restart on the
 * same port and store without disturbing anyone else's server, and a reader
 * that lists every message of a stream in stream order.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';

export const NATS_SERVER_BINARY = process.env['NATS_SERVER_BINARY'] ?? '/usr/sbin/nats-server';
const START_MS_MAX = 10_000;

export interface TestNatsServer {
  readonly url: string;
  readonly port: number;
  /** SIGKILL (like a crash): nothing flushed, nothing said goodbye to. */
  kill(): Promise<void>;
  /** Starts it again on the same port and store. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startTestNatsServer(): Promise<TestNatsServer> {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'paystream-nats-'));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';
  const url = `nats://127.0.0.1:${port}`;

  async function start(): Promise<void> {
    output = '';
    const started = spawn(NATS_SERVER_BINARY, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    started.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    exited = new Promise((resolve) => started.once('close', () => resolve()));
    child = started;
    const deadline = Date.now() + START_MS_MAX;
    while (!/Server is ready/.test(output)) {
      if (started.exitCode !== null) throw new Error(`nats-server exited: ${output}`);
      if (Date.now() > deadline) throw new Error(`nats-server did not start within ${START_MS_MAX} ms: ${output}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async function kill(): Promise<void> {
    if (!child || child.exitCode !== null) return;
    child.kill('SIGKILL');
    await exited;
  }

  await start();
  return {
    url,
    port,
    kill,
    start,
    close: async () => {
      await kill();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

export interface StreamMessage {
  readonly sequence: number;
  readonly subject: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Record<string, unknown>;
}

/** Every message of `stream`, in stream order, read one by one by sequence (no consumer left behind). */
export async function readWholeStream(url: string, stream: string): Promise<StreamMessage[]> {
  const connection: NatsConnection = await connect({ servers: url });
  try {
    const manager = await jetstreamManager(connection);
    const info = await manager.streams.info(stream);
    const messages: StreamMessage[] = [];
    for (let sequence = info.state.first_seq; sequence <= info.state.last_seq && sequence > 0; sequence += 1) {
      const message = await manager.streams.getMessage(stream, { seq: sequence });
      if (!message) continue;
      const headers: Record<string, string> = {};
      for (const [name, values] of message.header ?? []) headers[name] = values.join(',');
      messages.push({ sequence: message.seq, subject: message.subject, headers, body: message.json<Record<string, unknown>>() });
    }
    return messages;
  } finally {
    await connection.close();
  }
}

/** A unique stream name and subject prefix per test, so runs on a shared server never collide. */
export function uniqueStreamNames(label: string): { streamName: string; subjectPrefix: string } {
  const suffix = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  return { streamName: `T_${label.toUpperCase()}_${suffix}`, subjectPrefix: `t${label.toLowerCase()}${suffix}` };
}
