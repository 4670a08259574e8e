import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TinyCloudError } from '../../errors.js';
import { decodeError, type ExecutorSettings, type FromExecutor, type Job, type JobResult, type ToExecutor } from './protocol.js';

/**
 * How an executor process is started: the compiled `executor.js` next to this module. When this module runs
 * from its TypeScript source (the repository's test suite), the executor runs from its source too, through
 * the repository's caching TypeScript loader, so tests exercise the code under test.
 */
export function executorEntry(): { file: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  const dir = path.dirname(here);
  if (here.endsWith('.js')) return { file: path.join(dir, 'executor.js'), execArgv: [] };
  const loader = path.resolve(dir, '../../../../test/support/ts-cached-loader.mjs');
  return { file: path.join(dir, 'executor.ts'), execArgv: ['--import', pathToFileURL(loader).href] };
}

export interface ExecutorPoolOptions {
  /** Executor processes at most; they start when first needed. */
  readonly size: number;
  /** Time budget of one job's statements, in milliseconds: past it the executor is killed. */
  readonly timeoutMs: number;
  readonly settings: ExecutorSettings;
}

/** What a holder of an executor can do with it; every call goes to the same process. */
export interface ExecutorLease {
  /**
   * Sends one job and waits for its answer. `budget`: user statements run, so the executor is SIGKILLed when
   * the time budget passes and the call fails with SQL_TIMEOUT once the process is gone.
   */
  call(job: Job, budget: boolean): Promise<JobResult>;
}

interface Call {
  readonly id: number;
  readonly resolve: (result: JobResult) => void;
  readonly reject: (error: unknown) => void;
  timer?: NodeJS.Timeout;
}

class Executor {
  readonly child: ChildProcess;
  ready = false;
  leased = false;
  dead = false;
  openCount = 0;
  /** Databases recently used here, least recent first: they are probably still open in this process. */
  readonly recent = new Set<string>();
  #call: Call | undefined;
  #nextId = 1;
  #timedOutAfter: number | undefined;
  readonly exited: Promise<void>;

  constructor(
    entry: { file: string; execArgv: string[] },
    settings: ExecutorSettings,
    private readonly events: { ready(e: Executor): void; exit(e: Executor): void },
  ) {
    this.child = fork(entry.file, [JSON.stringify(settings)], {
      execArgv: entry.execArgv,
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      serialization: 'json',
    });
    this.child.on('message', (message: FromExecutor) => this.#receive(message));
    this.child.on('error', () => {}); // a failed spawn or send is followed by `exit`
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    void this.exited.then(() => this.#died());
    this.#idle();
  }

  call(job: Job, budgetMs: number | undefined): Promise<JobResult> {
    if (this.dead || this.#call) return Promise.reject(new TinyCloudError('STORAGE_UNAVAILABLE', 'SQL executor unavailable'));
    return new Promise<JobResult>((resolve, reject) => {
      const call: Call = { id: this.#nextId++, resolve, reject };
      this.#call = call;
      if (budgetMs !== undefined) {
        call.timer = setTimeout(() => {
          // SQLite cannot be interrupted from outside: the process goes, its unfinished transaction with it.
          this.#timedOutAfter = budgetMs;
          this.child.kill('SIGKILL');
        }, budgetMs);
      }
      this.child.send({ id: call.id, job } satisfies ToExecutor);
    });
  }

  lease(file: string | undefined): void {
    this.leased = true;
    if (file !== undefined) {
      this.recent.delete(file);
      this.recent.add(file);
      if (this.recent.size > 256) this.recent.delete(this.recent.values().next().value as string);
    }
    // Keep the node's event loop alive while a call is outstanding.
    this.child.ref();
    this.child.channel?.ref();
  }

  release(): void {
    this.leased = false;
    this.#idle();
  }

  /** An idle executor never keeps the node's process alive. */
  #idle(): void {
    this.child.unref();
    this.child.channel?.unref();
  }

  #receive(message: FromExecutor): void {
    if ('ready' in message) {
      this.ready = true;
      this.events.ready(this);
    } else if ('open' in message) {
      this.openCount = message.open;
    } else {
      const call = this.#call;
      if (!call || call.id !== message.id || this.#timedOutAfter !== undefined) return;
      this.#call = undefined;
      clearTimeout(call.timer);
      if (message.ok) call.resolve(message.result);
      else call.reject(decodeError(message.error));
    }
  }

  #died(): void {
    this.dead = true;
    this.openCount = 0;
    const call = this.#call;
    this.#call = undefined;
    if (call) {
      clearTimeout(call.timer);
      if (this.#timedOutAfter !== undefined) {
        const seconds = Number((this.#timedOutAfter / 1000).toFixed(3));
        call.reject(new TinyCloudError('SQL_TIMEOUT', `SQL statement stopped: it ran longer than the time limit of ${seconds} s (storage.sql.timeout_secs)`));
      } else {
        call.reject(new TinyCloudError('STORAGE_UNAVAILABLE', 'SQL executor stopped unexpectedly'));
      }
    }
    this.events.exit(this);
  }

  /** Asks an idle executor to close its databases and exit; kills it if it does not within `graceMs`. */
  async close(graceMs: number): Promise<void> {
    if (this.dead) return;
    if (this.leased || !this.ready) {
      this.child.kill('SIGKILL');
    } else {
      this.child.send({ close: true } satisfies ToExecutor);
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    await this.exited;
  }
}

interface Waiter {
  readonly space: string;
  readonly file: string | undefined;
  readonly resolve: (executor: Executor) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * A small pool of SQL executor processes. A job waits (FIFO) for an idle executor, preferring one that has its
 * database open; one space never holds more than `size - 1` executors while another space waits, so a holder
 * who keeps statements running until their time limit cannot take every executor. An executor that dies (time
 * limit, crash) is replaced at once.
 */
export class ExecutorPool {
  readonly #entry = executorEntry();
  readonly #executors = new Set<Executor>();
  readonly #waiting: Waiter[] = [];
  readonly #running = new Map<string, number>();
  readonly #spaceLimit: number;
  #closed = false;

  constructor(private readonly options: ExecutorPoolOptions) {
    this.#spaceLimit = Math.max(1, options.size - 1);
  }

  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  /** Databases open across the executors (one database open in two executors counts twice). */
  get openCount(): number {
    let count = 0;
    for (const executor of this.#executors) count += executor.openCount;
    return count;
  }

  /** Executor processes running now. */
  get processCount(): number {
    return this.#executors.size;
  }

  /** Runs `fn` with one executor to itself; `file` is the database it will use, to pick an executor that has it open. */
  async with<T>(space: string, file: string | undefined, fn: (lease: ExecutorLease) => Promise<T>): Promise<T> {
    const executor = await this.#acquire(space, file);
    const lease: ExecutorLease = { call: (job, budget) => executor.call(job, budget ? this.options.timeoutMs : undefined) };
    try {
      return await fn(lease);
    } finally {
      const running = (this.#running.get(space) ?? 1) - 1;
      if (running > 0) this.#running.set(space, running);
      else this.#running.delete(space);
      executor.release();
      this.#pump();
    }
  }

  #acquire(space: string, file: string | undefined): Promise<Executor> {
    if (this.#closed) return Promise.reject(new TinyCloudError('SERVICE_UNAVAILABLE', 'SQL databases are closed'));
    return new Promise<Executor>((resolve, reject) => {
      this.#waiting.push({ space, file, resolve, reject });
      this.#pump();
    });
  }

  /** Hands idle executors to waiters in order (skipping spaces at their limit) and starts executors still needed. */
  #pump(): void {
    for (let i = 0; i < this.#waiting.length; ) {
      const waiter = this.#waiting[i] as Waiter;
      if ((this.#running.get(waiter.space) ?? 0) >= this.#spaceLimit) {
        i += 1;
        continue;
      }
      const executor = this.#idleFor(waiter.file);
      if (!executor) break;
      this.#waiting.splice(i, 1);
      this.#running.set(waiter.space, (this.#running.get(waiter.space) ?? 0) + 1);
      executor.lease(waiter.file);
      waiter.resolve(executor);
    }
    if (this.#closed) return;
    const runnable = this.#waiting.filter((w) => (this.#running.get(w.space) ?? 0) < this.#spaceLimit).length;
    let starting = 0;
    for (const executor of this.#executors) if (!executor.ready) starting += 1;
    for (let n = Math.min(runnable - starting, this.options.size - this.#executors.size); n > 0; n -= 1) this.#start();
  }

  #idleFor(file: string | undefined): Executor | undefined {
    let any: Executor | undefined;
    for (const executor of this.#executors) {
      if (!executor.ready || executor.leased || executor.dead) continue;
      if (file !== undefined && executor.recent.has(file)) return executor;
      any ??= executor;
    }
    return any;
  }

  #start(): void {
    const executor = new Executor(this.#entry, this.options.settings, {
      ready: () => this.#pump(),
      exit: (e) => {
        this.#executors.delete(e);
        if (this.#closed) return;
        if (e.ready) {
          this.#start(); // a fresh executor replaces the one that was killed or crashed
        } else if (this.#executors.size === 0) {
          // It died before it could serve: fail the waiting jobs rather than restart in a loop.
          for (const waiter of this.#waiting.splice(0)) waiter.reject(new TinyCloudError('STORAGE_UNAVAILABLE', 'SQL executor failed to start'));
        }
        this.#pump();
      },
    });
    this.#executors.add(executor);
  }

  /** Fails waiting jobs, closes idle executors and kills busy ones. */
  async close(graceMs = 2000): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#waiting.splice(0)) waiter.reject(new TinyCloudError('SERVICE_UNAVAILABLE', 'SQL databases are closed'));
    await Promise.all([...this.#executors].map((e) => e.close(graceMs)));
  }
}
