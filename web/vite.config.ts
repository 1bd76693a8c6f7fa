/// <reference types="vitest" />
// The dashboard's build. `npm run dev` serves it on http://localhost:5173 and proxies the APIs
// to a running stack (PERMISO_STACK_URL, default the front door of `make run`), so the page,
// the sign-in and the refresh cookie share one origin, as they do in production.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const stack = process.env.PERMISO_STACK_URL ?? 'https://127.0.0.1:8443';

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: 'dist',
    sourcemap: false,
    // No inline script or data: module: the CSP allows scripts from 'self' only.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: {
    port: 5173,
    strictPort: true,
    proxy: {
      '/api': { target: stack, changeOrigin: true, secure: false, ws: true },
      '/.well-known': { target: stack, changeOrigin: true, secure: false },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
  },
});
