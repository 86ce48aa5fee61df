// The peer for crates/bench/peer/compare.sh: panva's oidc-provider with one client, an
// ES256 signing key, client_credentials issuing ES256 JWT access tokens for one resource,
// and an interaction route that logs a fixed account in and grants `openid` at once, so a
// client that follows redirects gets from /auth to its redirect_uri with a code.
//
// Env: PORT (3001), CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, RESOURCE. Prints "ready" when
// it listens. Storage is the provider's built-in in-memory adapter (no database).

import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT ?? 3001);
const issuer = `http://127.0.0.1:${port}`;
const clientId = process.env.CLIENT_ID ?? 'bench';
const clientSecret = process.env.CLIENT_SECRET ?? 'bench-secret';
const redirectUri = process.env.REDIRECT_URI ?? 'http://127.0.0.1:3002/cb';
const resource = process.env.RESOURCE ?? 'urn:sesam-bench:api';
const account = 'bench-person';

// One fresh P-256 key: ID tokens and JWT access tokens are both ES256.
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-es256', alg: 'ES256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code', 'client_credentials'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
  }],
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  pkce: { required: () => true },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // client_credentials without a `resource` parameter gets the API; the code flow gets
      // none, so its access token stays the opaque one userinfo accepts.
      defaultResource: async (ctx, _client, oneOf) => {
        if (oneOf) return oneOf;
        return ctx.oidc.params?.grant_type === 'client_credentials' ? resource : undefined;
      },
      getResourceServerInfo: async (_ctx, indicator) => {
        if (indicator !== resource) throw new Provider.errors.InvalidTarget();
        return {
          scope: 'api:read',
          audience: resource,
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
});

// The automatic login: finish the interaction with a login and a Grant for `openid`.
async function finishInteraction(req, res) {
  try {
    const details = await provider.interactionDetails(req, res);
    const grant = new provider.Grant({ accountId: account, clientId: details.params.client_id });
    grant.addOIDCScope('openid');
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, {
      login: { accountId: account },
      consent: { grantId },
    }, { mergeWithLastSubmission: false });
  } catch (e) {
    res.statusCode = 400;
    res.end(`interaction failed: ${e.message}`);
  }
}

const callback = provider.callback();
const server = createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) finishInteraction(req, res);
  else callback(req, res);
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
