// node-oidc-provider as the peer for token issuance: one client, client credentials
// (client_secret_post), JWT access tokens signed with a fresh ES256 key, scope trade:read.
// WORKERS processes (node:cluster, default one per core) share the port, node's way to use more
// than one core; each has its own key, which a benchmark of issuance does not mind.
// Usage: PORT=… CLIENT_ID=… CLIENT_SECRET=… [WORKERS=n] node server.js   (bench/peers/oidc_provider.sh)
import cluster from 'node:cluster';
import { generateKeyPairSync } from 'node:crypto';
import { availableParallelism } from 'node:os';
import Provider from 'oidc-provider';

if (cluster.isPrimary) {
  const workers = Number(process.env.WORKERS || availableParallelism());
  for (let i = 0; i < workers; i += 1) cluster.fork();
  cluster.on('exit', () => process.exit(1));  // a worker died: the benchmark is void
} else {
  process.on('disconnect', () => process.exit(0));  // the primary is gone: so is the benchmark
  serve();
}

function serve() {
  const port = Number(process.env.PORT);
  const resource = 'urn:permiso:bench';
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = { ...privateKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig', kid: 'bench' };

  const provider = new Provider(`http://127.0.0.1:${port}`, {
    clients: [{
      client_id: process.env.CLIENT_ID,
      client_secret: process.env.CLIENT_SECRET,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
      id_token_signed_response_alg: 'ES256',  // the only key is ES256 (no ID tokens here)
    }],
    jwks: { keys: [jwk] },
    scopes: ['trade:read'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // JWT access tokens (not opaque ones kept in the store) need a resource server.
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'trade:read',
          audience: resource,
          accessTokenTTL: 900,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
  });
  provider.listen(port, '127.0.0.1');
}
