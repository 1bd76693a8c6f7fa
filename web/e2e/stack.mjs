// The real stack for the browser tests: scripts/run-stack (permiso-auth, mt5-api and nginx
// with its development TLS) on free loopback ports, in a temp data dir, serving web/dist.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const ADMIN = { username: 'admin', password: 'Adm1n!e2e-password' };

const handedOut = new Set();

/** A free loopback port, never one handed out before (the kernel may repeat a closed one). */
async function freePort() {
  for (;;) {
    const port = await anyFreePort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function anyFreePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function until(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await fn()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function startStack({ repo, buildDir, accessTokenMinutes = 1 }) {
  const [auth, mt5, http, https] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'permiso-e2e-'));
  const url = `https://127.0.0.1:${https}`;
  const env = {
    ...process.env,
    PERMISO_DATA_DIR: dataDir,
    PERMISO_PORT: String(auth),
    MT5_API_PORT: String(mt5),
    PERMISO_EDGE_HTTP_PORT: String(http),
    PERMISO_EDGE_HTTPS_PORT: String(https),
    PERMISO_BOOTSTRAP_ADMIN_USERNAME: ADMIN.username,
    PERMISO_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password,
    DASHBOARD_REDIRECT_URIS: `${url}/auth/callback`,
    // Short access tokens, so a test sees the silent refresh carry a session past one.
    PERMISO_ACCESS_TOKEN_MINUTES: String(accessTokenMinutes),
    // The seed's edge limits are per address, and every test browser is 127.0.0.1.
    PERMISO_EDGE_AUTH_RATE: '6000r/m',
    PERMISO_EDGE_API_RATE: '60000r/m',
    RATE_LIMIT_LOGIN: '1000/minute',
  };
  const log = [];
  const child = spawn('bash', [path.join(repo, 'scripts/run-stack'), buildDir], { cwd: repo, env, detached: true });
  child.stdout.on('data', (d) => log.push(String(d)));
  child.stderr.on('data', (d) => log.push(String(d)));
  let exited = null;
  child.on('exit', (code) => {
    exited = code;
  });
  try {
    await until('the stack', () => {
      if (exited !== null) throw new Error('run-stack exited');
      return log.join('').includes('Permiso is up');
    }, 90_000).catch((e) => {
      throw new Error(`${e.message} (exit ${exited}):\n${log.join('').slice(-4000)}`);
    });
  } catch (e) {
    stop();
    throw e;
  }
  function stop() {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  return {
    url,
    authUrl: `http://127.0.0.1:${auth}`,
    mt5Url: `http://127.0.0.1:${mt5}`,
    dataDir,
    log: () => log.join(''),
    async stop() {
      stop();
      await until('the stack to stop', () => exited !== null, 20_000).catch(() => undefined);
      if (!process.env.PERMISO_E2E_KEEP) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A JSON call straight to a service (test setup, and checks a browser cannot make). */
export async function api(base, method, pathname, { token, json, form } = {}) {
  const headers = {};
  let body;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (json) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(form).toString();
  }
  const res = await fetch(base + pathname, { method, headers, body });
  const text = await res.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed };
}

export { until };
