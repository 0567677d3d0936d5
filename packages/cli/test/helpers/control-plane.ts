import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '@appdefender/server';

export interface TestControlPlane {
  url: string;
  apiToken: string;
  licenseKey: string;
  close(): Promise<void>;
}

/** The real control plane on loopback (port 0, SQLite in a fresh temp dir) with one signed-up account. */
export async function startControlPlane(): Promise<TestControlPlane> {
  const dataDir = await mkdtemp(join(tmpdir(), 'cli-control-plane-'));
  const server = await startServer({
    port: 0,
    host: '127.0.0.1',
    dataDir,
    dashboardDir: null,
    retention: false,
  });
  const response = await fetch(`${server.url}/api/v1/signup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      email: `cli-${Date.now()}@example.com`,
      password: 'correct horse battery staple',
    }),
  });
  if (response.status !== 201) throw new Error(`signup failed: ${response.status} ${await response.text()}`);
  const body = (await response.json()) as { apiToken: string; licenseKey: string };
  return {
    url: server.url,
    apiToken: body.apiToken,
    licenseKey: body.licenseKey,
    close: async () => {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
