/**
 * Serves the dashboard (packages/dashboard/dist) at `/`, with index.html for every non-API path
 * the files do not cover (the SPA routes itself). Without a build, `/` explains how to make one.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** The dashboard's dist directory: through the installed package, else the sibling workspace. */
export function resolveDashboardDir(): string {
  try {
    const manifest = createRequire(import.meta.url).resolve('@appdefender/dashboard/package.json');
    return path.join(path.dirname(manifest), 'dist');
  } catch {
    // The package may not export package.json; src/ and dist/ are both one level below the package.
    return fileURLToPath(new URL('../../dashboard/dist', import.meta.url));
  }
}

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AppDefender</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>AppDefender control plane</h1>
<p>The API is running (see <a href="/api/openapi.json">/api/openapi.json</a>), but the dashboard is not built.</p>
<p>Build it with <code>npm run build</code> at the repository root
(or <code>npm run build -w @appdefender/dashboard</code>), then restart the server.</p>
</body></html>
`;

export async function registerDashboard(app: FastifyInstance, dashboardDir: string | null): Promise<void> {
  const built = dashboardDir !== null && existsSync(path.join(dashboardDir, 'index.html'));
  if (built) {
    await app.register(fastifyStatic, {
      root: dashboardDir,
      prefix: '/',
      wildcard: true,
      index: ['index.html'],
    });
  }
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    const pathname = request.url.split('?')[0] ?? '/';
    const isApi = pathname === '/api' || pathname.startsWith('/api/');
    if (isApi || (request.method !== 'GET' && request.method !== 'HEAD')) {
      return reply.code(404).send({
        error: {
          code: 'NOT_FOUND',
          message: `no route ${request.method} ${pathname}; see /api/openapi.json`,
        },
      });
    }
    if (!built)
      return reply
        .code(pathname === '/' ? 200 : 404)
        .type('text/html; charset=utf-8')
        .send(NOT_BUILT_PAGE);
    return reply.type('text/html; charset=utf-8').sendFile('index.html');
  });
}
