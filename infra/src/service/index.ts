export { ConfigError, envFields, parseEnv } from './env.ts';
export { healthRoutes } from './health.ts';
export { createLogger, type Logger, loggerOptions, REDACT_PATHS } from './logger.ts';
export { type RunningService, runService, runShutdown, type ShutdownStep } from './shutdown.ts';
