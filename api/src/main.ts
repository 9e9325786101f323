/** Entry point: parse the environment, build the api, listen, shut down in order on SIGTERM. */
import { createClickHouse } from '@stint/infra/clickhouse';
import { createLogger, envFields, loggerOptions, parseEnv, runService } from '@stint/infra/service';
import { z } from 'zod';
import { buildApi } from './app.ts';
// [auth] sign-in session settings from AUTH_* (api/SECURITY.md).
import { AuthEnv, countryFromGeoIp, countryFromHeader, noCountry, trustProxyOption } from './auth/index.ts';

const Env = z.object({
  API_PORT: envFields.port(8300),
  API_HOST: envFields.host,
  LOG_LEVEL: envFields.logLevel,
  CLICKHOUSE_URL: envFields.clickhouseUrl,
  CLICKHOUSE_DATABASE: envFields.clickhouseDatabase,
  SHUTDOWN_TIMEOUT_MS: envFields.shutdownTimeoutMs,
  /** Folder of the dashboard's built files; default dashboards/dist or dashboards/public. */
  DASHBOARD_DIR: z.string().min(1).optional(),
  ...AuthEnv, // [auth]
});

const env = parseEnv('api', Env);
const log = createLogger('api', env.LOG_LEVEL);

await runService(
  'api',
  log,
  async () => {
    const client = createClickHouse({ url: env.CLICKHOUSE_URL, database: env.CLICKHOUSE_DATABASE });
    const app = await buildApi({
      client,
      database: env.CLICKHOUSE_DATABASE,
      logger: loggerOptions('api', env.LOG_LEVEL),
      ...(env.DASHBOARD_DIR ? { staticRoot: env.DASHBOARD_DIR } : {}),
      // [auth]
      ...(trustProxyOption(env.API_TRUST_PROXY) !== undefined
        ? { trustProxy: trustProxyOption(env.API_TRUST_PROXY) }
        : {}),
      auth: {
        idleTimeoutMs: env.AUTH_IDLE_TIMEOUT,
        absoluteTimeoutMs: env.AUTH_ABSOLUTE_TIMEOUT,
        allowedOrigins: env.AUTH_ORIGINS,
        scrypt: { N: env.AUTH_SCRYPT_N, r: 8, p: 1 },
        countryOf: env.AUTH_COUNTRY_HEADER
          ? countryFromHeader(env.AUTH_COUNTRY_HEADER)
          : env.AUTH_GEOIP === 'on'
            ? countryFromGeoIp()
            : noCountry,
      },
    });
    const address = await app.listen({ port: env.API_PORT, host: env.API_HOST });
    log.info({ address, docs: `${address}/docs` }, 'api listening');
    return {
      shutdown: [
        { name: 'stop http', run: () => app.close() },
        { name: 'close clickhouse', run: () => client.close() },
      ],
    };
  },
  { shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS },
);
