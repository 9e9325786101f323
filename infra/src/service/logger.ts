import { type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger } from 'pino';

/** Never logged: credentials, tokens, cookies and client IP addresses. */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'ip',
  '*.ip',
  'url.password',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-forwarded-for"]',
  'req.headers["x-real-ip"]',
  'req.remoteAddress',
  'req.remotePort',
  'headers.authorization',
  'headers.cookie',
];

export function loggerOptions(name: string, level = process.env.LOG_LEVEL ?? 'info'): LoggerOptions {
  return {
    name,
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: name, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

/** The one logger factory: structured JSON on stdout, secrets and IPs redacted. */
export function createLogger(name: string, level?: string): Logger {
  return pino(loggerOptions(name, level));
}
