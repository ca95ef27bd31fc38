// A real OpenID provider for the single sign-on tests: panva's oidc-provider (OpenID-certified)
// with its development login form (any user name, any password). Started by
// coffer_server::testing::oidc on a free port; the test's people and their claims come in
// OP_ACCOUNTS as JSON ({"alice": {"email": …, "groups": […]}}), the relying party in OP_CLIENT
// ({"client_id", "client_secret", "redirect_uris"}). Prints "listening" once it accepts.
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(process.env.OP_ACCOUNTS || '{}');
const client = JSON.parse(process.env.OP_CLIENT);
const ttl = Number(process.env.OP_ID_TOKEN_TTL || 3600);

const op = new Provider(issuer, {
  clients: [{
    ...client,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: client.client_secret ? 'client_secret_basic' : 'none',
  }],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'], groups: ['groups'] },
  conformIdTokenClaims: false,
  ttl: { IdToken: ttl },
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, preferred_username: id, name: id, email_verified: true, ...(accounts[id] || {}) }),
  }),
});
op.listen(port, '127.0.0.1', () => console.log('listening'));
