import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The policy engine is bundled from source: it has no dependencies and its validator runs in the
// browser exactly as it runs on the server, so the editor shows the same errors the API would return.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  resolve: {
    alias: {
      '@appdefender/policy': fileURLToPath(new URL('../policy/src/index.ts', import.meta.url)),
    },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
  },
  server: {
    proxy: { '/api': process.env.APPDEFENDER_API_URL ?? 'http://127.0.0.1:8080' },
  },
});
