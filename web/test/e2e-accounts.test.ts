/**
 * Browser end-to-end tests of accounts mode: the real orchestrator (`AUTH_MODE=accounts`, port 0,
 * a temporary data dir) serving the built dashboard, driven by Debian's Chromium through
 * playwright-core, as in e2e.test.ts. The admin is created from the setup link the orchestrator
 * prints at start, exactly as a person would. Screenshots of the new pages land in
 * `artifacts/screenshots/`.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { SCREENSHOTS, hasBrowser, launchChromium } from './chromium.js';
import {
  ROOT,
  SERVER_CLI,
  spawnAgent,
  spawnOrchestrator,
  stopProcess,
  tempDir,
  waitFor,
  type OrchestratorProcess,
} from '@expressionist/testkit';
import { ExpressionPageSchema, LoginReplySchema } from '@expressionist/core';

const PASSWORD = 'correct horse battery';

async function startOrchestrator(
  dataDir: string,
  env: Record<string, string>,
): Promise<OrchestratorProcess> {
  if (!existsSync(SERVER_CLI))
    throw new Error(`${SERVER_CLI} is missing: run "npm run build" first`);
  if (!existsSync(path.join(ROOT, 'web', 'build', 'index.html'))) {
    throw new Error('web/build is missing: run "npm run build" first');
  }
  return spawnOrchestrator({
    cwd: ROOT,
    env: {
      DATA_DIR: dataDir,
      WEB_DIR: path.join(ROOT, 'web', 'build'),
      TIME_ADDITION_MS: '50',
      TIME_SUBTRACTION_MS: '50',
      TIME_MULTIPLICATIONS_MS: '50',
      TIME_DIVISIONS_MS: '50',
      ...env,
    },
  });
}

/** The one-time token of `Open http://…/setup#<token> to create the admin account`. */
async function setupToken(orchestrator: OrchestratorProcess): Promise<string> {
  let token = '';
  await waitFor(
    () => {
      const match = /\/setup#([^\s"'\\]+)/.exec(orchestrator.output());
      token = match?.[1] ?? '';
      return token !== '';
    },
    10_000,
    'the setup link in the orchestrator output',
    50,
  );
  return token;
}

async function newPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
  return page;
}

/** Fills the login/password form of the current page and submits it. */
async function submitCredentials(page: Page, login: string, password: string): Promise<void> {
  await page.getByLabel('Login').fill(login);
  await page.getByLabel('Password').fill(password);
  await page.getByTestId('credentials-submit').click();
}

async function register(page: Page, base: string, login: string): Promise<void> {
  await page.goto(`${base}/register`);
  await submitCredentials(page, login, PASSWORD);
  await page.getByTestId('user-login').filter({ hasText: login }).waitFor();
  await page.locator('[data-testid=connection-state][data-state=connected]').waitFor();
}

async function apiToken(base: string, login: string): Promise<string> {
  const res = await fetch(`${base}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ login, password: PASSWORD }),
  });
  expect(res.status).toBe(200);
  return LoginReplySchema.parse(await res.json()).token;
}

async function expressionsAs(base: string, token: string): Promise<string[]> {
  const res = await fetch(`${base}/api/v1/expressions?limit=100`, {
    headers: { authorization: `Bearer ${token}` },
  });
  expect(res.status).toBe(200);
  return ExpressionPageSchema.parse(await res.json()).expressions.map((e) => e.expression);
}

if (!hasBrowser)
  console.log(
    'browser e2e (accounts) skipped: install chromium (apt-get install -y chromium) to enable',
  );

describe.skipIf(!hasBrowser)('accounts in Chromium', () => {
  const data = tempDir('expressionist-web-accounts-');
  let orchestrator: OrchestratorProcess | undefined;
  let browser: Browser | undefined;
  let base = '';

  beforeAll(async () => {
    orchestrator = await startOrchestrator(data.dir, { AUTH_MODE: 'accounts' });
    base = orchestrator.url;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await orchestrator?.stop();
    data.remove();
  });

  it('sends a signed-out visitor to the login page and keeps "Become an agent" usable', async () => {
    const context = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const page = await newPage(context);
      await page.goto(`${base}/settings`);
      await page.waitForURL(/\/login\?next=%2Fsettings$/);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      expect(await page.getByTestId('connection-state').getAttribute('data-state')).toBe(
        'signedOut',
      );
      await page.getByTestId('setup-pending').waitFor();
      expect(await page.getByTestId('become-agent').isEnabled()).toBe(true);
      await page.screenshot({ path: path.join(SCREENSHOTS, 'accounts-login.png') });

      // A wrong password is an answer on the form, not a redirect.
      await submitCredentials(page, 'nobody', 'wrong password');
      await expect.poll(() => page.getByTestId('form-error').textContent()).toContain('Wrong');

      await page.getByTestId('to-register').click();
      await page.waitForURL(/\/register\?next=%2Fsettings$/);
      await submitCredentials(page, 'x', 'short');
      await page.getByTestId('login-error').waitFor();
      await page.getByTestId('password-error').waitFor();
      await page.screenshot({ path: path.join(SCREENSHOTS, 'accounts-register.png') });
    } finally {
      await context.close();
    }
  });

  it('creates the admin from the setup link, once', async () => {
    const token = await setupToken(orchestrator!);
    const context = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const page = await newPage(context);
      await page.goto(`${base}/setup#${token}`);
      await page.getByTestId('setup-form').waitFor();
      await page.screenshot({ path: path.join(SCREENSHOTS, 'accounts-setup.png') });
      await submitCredentials(page, 'root', PASSWORD);
      await page.waitForURL(`${base}/`);
      await page.getByTestId('user-role').filter({ hasText: 'admin' }).waitFor();
      await expect.poll(() => page.getByTestId('home-title').textContent()).toBe('All expressions');
      await page.getByTestId('user-menu-button').click();
      await page.getByTestId('user-panel').waitFor();
      await page.screenshot({ path: path.join(SCREENSHOTS, 'accounts-user-menu.png') });
      await page.setViewportSize({ width: 390, height: 800 });
      await page.screenshot({ path: path.join(SCREENSHOTS, 'accounts-user-menu-phone.png') });

      // The link is spent: a second visit explains instead of offering a form.
      const again = await newPage(await browser!.newContext());
      await again.goto(`${base}/setup#${token}`);
      await again.getByTestId('setup-invalid').waitFor();
      await again.context().close();
    } finally {
      await context.close();
    }
  });

  it('shows each user only their own expressions', async () => {
    const aliceContext = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    const bobContext = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const alice = await newPage(aliceContext);
      await register(alice, base, 'alice');
      await expect.poll(() => alice.getByTestId('home-title').textContent()).toBe('My expressions');
      await alice.getByTestId('expression-input').fill('1+2+3');
      await alice.getByTestId('expression-input').press('Enter');
      // Alice's tab computes it, as Alice (a user agent).
      await alice.getByTestId('become-agent').click();
      await alice
        .locator('[data-testid=expression-row][data-status=done]', { hasText: '1+2+3' })
        .waitFor({ timeout: 20_000 });
      await alice.getByTestId('agent-summary').click();
      expect(await alice.getByTestId('agent-trust-note').getAttribute('data-trust')).toBe('user');

      const bob = await newPage(bobContext);
      await register(bob, base, 'bob');
      await bob.getByTestId('empty-expressions').waitFor();
      expect(await expressionsAs(base, await apiToken(base, 'bob'))).toEqual([]);
      expect(await expressionsAs(base, await apiToken(base, 'alice'))).toEqual(['1+2+3']);

      // Signing out closes the live view and leads to the login page.
      await alice.getByTestId('stop-agent').click();
      await alice.getByTestId('user-menu-button').click();
      await alice.getByTestId('sign-out').click();
      await alice.waitForURL(/\/login/);
      expect(await alice.evaluate(() => localStorage.getItem('expressionist.token'))).toBeNull();
      await submitCredentials(alice, 'alice', PASSWORD);
      await alice.locator('[data-testid=expression-row]', { hasText: '1+2+3' }).waitFor();

      // A token the server no longer accepts ends the session on the next call.
      await alice.evaluate(() => localStorage.setItem('expressionist.token', 'x.y.z'));
      await alice.goto(`${base}/agents`);
      await alice.waitForURL(/\/login\?next=%2Fagents$/);
    } finally {
      await aliceContext.close();
      await bobContext.close();
    }
  });

  it('lets the admin issue an agent credential, shown once, and revoke it', async () => {
    const context = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const page = await newPage(context);
      await page.goto(`${base}/login?next=%2Fagents%2Fcredentials`);
      await submitCredentials(page, 'root', PASSWORD);
      await page.waitForURL(`${base}/agents/credentials`);
      await page.getByTestId('credential-name').fill('rack-3');
      await page.getByTestId('credential-create').click();
      const token = (await page.getByTestId('issued-token').textContent()) ?? '';
      expect(token.length).toBeGreaterThan(16);
      expect(await page.getByTestId('issued-command').textContent()).toBe(
        `npm run agent -- --server ${base} --token ${token}`,
      );
      await page.screenshot({ path: path.join(SCREENSHOTS, 'accounts-credential-issued.png') });

      await page.reload();
      await page.getByTestId('credential-row').filter({ hasText: 'rack-3' }).waitFor();
      expect(await page.getByTestId('issued').count()).toBe(0);
      await page.getByTestId('credential-revoke').click();
      await page.getByTestId('credential-revoke-yes').click();
      await page.getByTestId('credential-row').filter({ hasText: 'Revoked' }).waitFor();
    } finally {
      await context.close();
    }
  });

  it('lets the admin disconnect a connected agent from its row', async () => {
    const agent = spawnAgent(base, { id: 'kick-me', name: 'kick-me', logLevel: 'warn' });
    const context = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const page = await newPage(context);
      await page.goto(`${base}/login?next=%2Fagents`);
      await submitCredentials(page, 'root', PASSWORD);
      const row = page.locator('[data-testid=agent-row][data-agent=kick-me][data-status=active]');
      await row.waitFor();
      // A socket agent outside quarantine: something to cut, nothing to release.
      expect(await row.getByTestId('agent-release').count()).toBe(0);
      await row.getByTestId('agent-kick').click();
      await page.getByText('Disconnected kick-me').waitFor();
    } finally {
      await context.close();
      await stopProcess(agent);
    }
  });

  it('keeps settings read-only and admin buttons away from users', async () => {
    const context = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const page = await newPage(context);
      await page.goto(`${base}/login?next=%2Fsettings`);
      await submitCredentials(page, 'bob', PASSWORD);
      await page.getByTestId('settings-read-only').waitFor();
      expect(await page.getByTestId('settings-save').count()).toBe(0);
      expect(await page.getByTestId('setting-additionMs').getAttribute('readonly')).not.toBeNull();
      await page.goto(`${base}/agents/credentials`);
      await page.getByTestId('credentials-admin-only').waitFor();
      await page.goto(`${base}/users`);
      await page.getByTestId('users-admin-only').waitFor();
    } finally {
      await context.close();
    }
  });

  it('account page: a password change signs the other browser out; sign-out ends the token', async () => {
    const homeContext = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    const otherContext = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const page = await newPage(homeContext);
      await register(page, base, 'carol');
      const elsewhere = await newPage(otherContext);
      await elsewhere.goto(`${base}/login`);
      await submitCredentials(elsewhere, 'carol', PASSWORD);
      await elsewhere.locator('[data-testid=connection-state][data-state=connected]').waitFor();

      await page.getByTestId('user-menu-button').click();
      await page.getByTestId('to-account').click();
      await page.waitForURL(`${base}/account`);
      await page.getByTestId('current-password').fill('not my password');
      await page.getByTestId('new-password').fill('a new passphrase 2');
      await page.getByTestId('repeat-password').fill('a new passphrase 2');
      await page.getByTestId('password-submit').click();
      await expect
        .poll(() => page.getByTestId('password-error').textContent())
        .toBe('The current password is wrong.');
      await page.getByTestId('current-password').fill(PASSWORD);
      await page.getByTestId('password-submit').click();
      // The other browser's session ended: its live view is cut off and it lands on the login page.
      await elsewhere.waitForURL(/\/login/);
      // This one goes on, with its new token, live.
      await expect.poll(() => page.getByTestId('current-password').inputValue()).toBe('');
      await page.locator('[data-testid=connection-state][data-state=connected]').waitFor();
      expect(page.url()).toBe(`${base}/account`);
      await page.screenshot({ path: path.join(SCREENSHOTS, 'accounts-account.png') });

      // This browser is a known device for carol now (its device token is kept across sign-outs).
      const token = await page.evaluate(() => localStorage.getItem('expressionist.token'));
      await page.getByTestId('account-sign-out').click();
      await page.waitForURL(/\/login/);
      const devices = await page.evaluate(() => localStorage.getItem('expressionist.devices'));
      expect(Object.keys(JSON.parse(devices ?? '{}') as object)).toContain('carol');
      const after = await fetch(`${base}/api/v1/expressions`, {
        headers: { authorization: `Bearer ${token ?? ''}` },
      });
      expect(after.status).toBe(401);
    } finally {
      await homeContext.close();
      await otherContext.close();
    }
  });

  it('users page: the admin disables a user, whose open tab is signed out at once, and deletes them', async () => {
    const adminContext = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    const bobContext = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const bob = await newPage(bobContext);
      await bob.goto(`${base}/login`);
      await submitCredentials(bob, 'bob', PASSWORD);
      await bob.locator('[data-testid=connection-state][data-state=connected]').waitFor();

      const admin = await newPage(adminContext);
      await admin.goto(`${base}/login?next=%2Fusers`);
      await submitCredentials(admin, 'root', PASSWORD);
      await admin.waitForURL(`${base}/users`);
      const row = admin.locator('[data-testid=user-row][data-login=bob]');
      await row.waitFor();
      expect(
        await admin
          .locator('[data-testid=user-row][data-login=root] [data-testid=user-toggle]')
          .count(),
      ).toBe(0);
      await row.getByTestId('user-toggle').click();
      await expect.poll(() => row.getByTestId('user-status').textContent()).toBe('Disabled');
      await bob.waitForURL(/\/login/);
      await admin.screenshot({ path: path.join(SCREENSHOTS, 'accounts-users.png') });

      await row.getByTestId('user-delete').click();
      await row.getByTestId('user-delete-yes').click();
      await row.waitFor({ state: 'detached' });
      const res = await fetch(`${base}/api/v1/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ login: 'bob', password: PASSWORD }),
      });
      expect(res.status).toBe(401);
    } finally {
      await adminContext.close();
      await bobContext.close();
    }
  });
});

describe.skipIf(!hasBrowser)('open mode on a network address', () => {
  it('warns that anyone who can reach it can change settings', async () => {
    const data = tempDir('expressionist-web-exposed-');
    // Listening on every interface with AUTH_MODE=open is what `exposed` reports.
    const orchestrator = await startOrchestrator(data.dir, { AUTH_MODE: 'open', HOST: '0.0.0.0' });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(orchestrator.url);
      await page.getByTestId('exposed-banner').waitFor();
      expect(await page.getByTestId('user-menu').count()).toBe(0);
      await page.screenshot({ path: path.join(SCREENSHOTS, 'accounts-open-exposed.png') });
    } finally {
      await browser.close();
      await orchestrator.stop();
      data.remove();
    }
  });
});
