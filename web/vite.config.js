// The dashboard is built into dist/, which `heteroaccel server` embeds and
// serves at /: assets are referenced relatively (base './') and pages are
// hash routes, so the same build works under any path and offline.
//
// `npm run dev` serves the sources and forwards the API to a running server:
//   HETEROACCEL_URL=http://127.0.0.1:8000 npm run dev
import { defineConfig } from 'vite';

const target = process.env.HETEROACCEL_URL || 'http://127.0.0.1:8000';

export default defineConfig({
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2020',
    // One small bundle: no source maps shipped inside the server binary.
    sourcemap: false,
    chunkSizeWarningLimit: 200,
  },
  server: {
    proxy: {
      '/v1': { target, changeOrigin: true },
      '/v2': { target, changeOrigin: true },
    },
  },
});
