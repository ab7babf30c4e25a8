/**
 * Real processes for the gateway's end-to-end suites: spawn an entry file with
 * tsx and an environment, read its output, SIGKILL it, restart it. Every wait
 * is bounded; every process is killed at the end even when a test fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
/**
 * `node --import tsx`, not the tsx CLI: the CLI runs the program in a child
 * process, so a SIGKILL would kill only the wrapper and leave the real process
 * running (and holding its database) as an orphan.
 */
const NODE_ARGS = ['--import', 'tsx'];
/** Output kept per process for the failure message. */
const OUTPUT_CHARS_MAX = 200_000;

export interface RunningProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** stdout and stderr interleaved as they arrived. */
  output(): string;
  stdout(): string;
  stderr(): string;
  exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function startProcess(name: string, entry: string, env: Record<string, string>, args: readonly string[] = []): RunningProcess {
  const child = spawn(process.execPath, [...NODE_ARGS, join(ROOT, entry), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'test', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const kept = { output: '', stdout: '', stderr: '' };
  const keep = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    kept.output = (kept.output + text).slice(-OUTPUT_CHARS_MAX);
    kept[stream] = (kept[stream] + text).slice(-OUTPUT_CHARS_MAX);
  };
  child.stdout!.on('data', keep('stdout'));
  child.stderr!.on('data', keep('stderr'));
  let running = true;
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // 'close', not 'exit': only then has everything the process printed been read.
    child.on('close', (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
  });
  return {
    name,
    child,
    output: () => kept.output,
    stdout: () => kept.stdout,
    stderr: () => kept.stderr,
    exited: () => exit,
    isRunning: () => running,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (!running) return;
      child.kill(signal);
      await exit;
    },
  };
}

/** Polls `probe` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

/** Resolves when the process printed a line matching `pattern`; fails at once when it exits, or when the time is up. */
export async function waitForOutput(running: RunningProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pattern.test(running.output())) return;
    if (!running.isRunning()) throw new Error(`${running.name} exited before printing ${pattern}:\n${running.output().slice(-4_000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${running.name} to print ${pattern}:\n${running.output().slice(-4_000)}`);
}
