/// <reference types="vitest" />
// The dashboard's build. `npm run dev` serves it on http://localhost:5173 and proxies the APIs
// to a running stack (PERMISO_STACK_URL, default the front door of `make run`), so the page,
// the sign-in and the refresh cookie share one origin, as they do in production.
import { cpSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

const stack = process.env.PERMISO_STACK_URL ?? 'https://127.0.0.1:8443';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/// The interactive API reference: Swagger UI's files from npm and our page (docs/) into
/// dist/docs, which the front door serves at /docs.
function apiReference(): Plugin {
  const swagger = ['swagger-ui-bundle.js', 'swagger-ui-standalone-preset.js', 'swagger-ui.css',
    'oauth2-redirect.html', 'oauth2-redirect.js', 'favicon-32x32.png'];
  const ours = ['index.html', 'docs.js', 'docs.css'];
  return {
    name: 'permiso-api-reference',
    apply: 'build',
    closeBundle() {
      const out = here('dist/docs/');
      mkdirSync(out, { recursive: true });
      for (const f of swagger) cpSync(here(`node_modules/swagger-ui-dist/${f}`), out + f);
      for (const f of ours) cpSync(here(`docs/${f}`), out + f);
    },
  };
}

export default defineConfig({
  plugins: [react(), apiReference()],
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
