/**
 * Accounts mode for benches: the orchestrator's environment with a known admin, signed-in
 * clients for the API (testkit's `Api` with a token), and the admin's agent credentials. Registration is limited to 5 a minute per address, so a bench registers a few
 * users per orchestrator, not per trial on a shared one.
 */
import { CreateCredentialReplySchema, LoginReplySchema } from '@expressionist/core';
import { Api, request } from '@expressionist/testkit';

export const BENCH_ADMIN = { login: 'bench-admin', password: 'correct horse battery staple' };
const JWT_SECRET = 'bench-accounts-secret-0123456789abcdef';

/** The orchestrator's environment for accounts mode with `BENCH_ADMIN` as its admin. */
export const accountsEnv = (): Record<string, string> => ({
  AUTH_MODE: 'accounts',
  ADMIN_LOGIN: BENCH_ADMIN.login,
  ADMIN_PASSWORD: BENCH_ADMIN.password,
  JWT_SECRET,
});

/** The API as one signed-in user (testkit's `Api` with a token), plus the admin's credentials. */
export class SignedInApi extends Api {
  /** `POST /api/v1/agent-credentials` (admin): resolves with the new credential's token. */
  async issueCredential(name: string): Promise<string> {
    return CreateCredentialReplySchema.parse(
      await this.ok('POST', '/api/v1/agent-credentials', { name }),
    ).token;
  }
}

/** `POST /api/v1/login`: the JWT of `login`. */
export async function signIn(base: string, login: string, password: string): Promise<string> {
  const res = await request(base, 'POST', '/api/v1/login', { json: { login, password } });
  if (res.status !== 200) throw new Error(`login ${login} → ${res.status} ${res.text}`);
  return LoginReplySchema.parse(res.json).token;
}

/** `POST /api/v1/register`, then signs in: the new user's JWT. */
export async function registerUser(
  base: string,
  login: string,
  password = 'a good bench passphrase',
): Promise<string> {
  const res = await request(base, 'POST', '/api/v1/register', { json: { login, password } });
  if (res.status !== 200) throw new Error(`register ${login} → ${res.status} ${res.text}`);
  return signIn(base, login, password);
}

/** The admin of an orchestrator started with `accountsEnv()`, signed in. */
export async function signInAdmin(base: string): Promise<SignedInApi> {
  return new SignedInApi(base, await signIn(base, BENCH_ADMIN.login, BENCH_ADMIN.password));
}
