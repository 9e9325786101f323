import type { FastifyInstance } from 'fastify';

/**
 * `/healthz`: the process is alive. `/readyz`: its dependencies answer (503 with the failing ones).
 */
export function healthRoutes(
  app: FastifyInstance,
  checks: Record<string, () => Promise<boolean> | boolean>,
): void {
  app.get('/healthz', { logLevel: 'warn' }, async () => ({ status: 'ok' }));
  app.get('/readyz', { logLevel: 'warn' }, async (_req, reply) => {
    const results: Record<string, boolean> = {};
    await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          results[name] = await check();
        } catch {
          results[name] = false;
        }
      }),
    );
    const ready = Object.values(results).every(Boolean);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks: results });
  });
}
