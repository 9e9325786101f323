import type { Logger } from './logger.ts';

export interface ShutdownStep {
  name: string;
  run: () => Promise<void> | void;
}

/**
 * Runs shutdown steps in order, each in its own try/log, so one failing step never skips the
 * flushes after it (a dropped buffer is lost data).
 */
export async function runShutdown(steps: ShutdownStep[], log: Logger): Promise<boolean> {
  let clean = true;
  for (const step of steps) {
    const started = Date.now();
    try {
      await step.run();
      log.info({ step: step.name, ms: Date.now() - started }, 'shutdown step done');
    } catch (err) {
      clean = false;
      log.error({ step: step.name, err }, 'shutdown step failed');
    }
  }
  return clean;
}

export interface RunningService {
  /** Ordered: stop taking traffic, drain, flush, commit, close clients. */
  shutdown: ShutdownStep[];
}

/**
 * Entry-point glue for main.ts: start, then on SIGTERM/SIGINT run the ordered shutdown under a
 * hard deadline (an unref'd timer that exits non-zero if a step hangs).
 */
export async function runService(
  name: string,
  log: Logger,
  start: () => Promise<RunningService>,
  options: { shutdownTimeoutMs?: number } = {},
): Promise<void> {
  let running: RunningService;
  try {
    running = await start();
  } catch (err) {
    log.fatal({ err }, `${name} failed to start`);
    process.exit(1);
  }
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, `${name} shutting down`);
    const deadline = setTimeout(() => {
      log.error(`${name} did not stop within ${options.shutdownTimeoutMs ?? 15_000} ms; exiting`);
      process.exit(2);
    }, options.shutdownTimeoutMs ?? 15_000);
    deadline.unref();
    const clean = await runShutdown(running.shutdown, log);
    log.info({ clean }, `${name} stopped`);
    process.exit(clean ? 0 : 1);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
