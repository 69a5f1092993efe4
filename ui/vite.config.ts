/**
 * The operator web UI: `npm run build` writes it to dist/ui, which the API
 * process serves. `npm run ui:dev` serves it with hot reload on :5173 and
 * proxies /api to a control plane on :3000 (`npm start`).
 */
import path from 'node:path';
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: path.resolve(import.meta.dirname, '../dist/ui'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
    // On a busy 2-core CI machine the CSS transform is slow; that is not news worth a warning.
    rolldownOptions: { checks: { bundlerTimings: false } },
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:3000' },
  },
});
