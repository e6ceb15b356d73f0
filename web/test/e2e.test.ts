/**
 * Browser end-to-end tests: the real orchestrator (`server/dist/cli.js`, port 0, no Node agents,
 * a temporary data dir) serving the built dashboard (`web/build`), driven by Debian's Chromium
 * through playwright-core. Browser tabs are the only agents, so every result here was computed by
 * the Web Worker agent. Screenshots of every page land in `artifacts/screenshots/`.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { SCREENSHOTS, hasBrowser, launchChromium } from './chromium.js';
import {
  api,
  ROOT,
  SERVER_CLI,
  spawnOrchestrator,
  tempDir,
  waitFor,
  type Api,
  type OrchestratorProcess,
} from '@expressionist/testkit';

if (!hasBrowser) {
  console.log('browser e2e skipped: install chromium (apt-get install -y chromium) to enable');
}

async function openDashboard(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
  await page.goto(url);
  await page.locator('[data-testid=connection-state][data-state=connected]').waitFor();
  return page;
}

async function becomeAgent(page: Page, concurrency: number): Promise<string> {
  await page.getByLabel('Parallel tasks').fill(String(concurrency));
  await page.getByTestId('become-agent').click();
  await page.locator('[data-testid=agent-summary][data-connection=connected]').waitFor();
  const agentId = await page.evaluate(() => sessionStorage.getItem('expressionist.agentId'));
  expect(agentId).toMatch(/^browser-[0-9a-f]{8}$/);
  return agentId!;
}

/** The built orchestrator serving the built dashboard, on the given data dir (and port). */
async function startOrchestrator(
  dataDir: string,
  env: Record<string, string> = {},
): Promise<OrchestratorProcess> {
  if (!existsSync(SERVER_CLI))
    throw new Error(`${SERVER_CLI} is missing: run "npm run build" first`);
  if (!existsSync(path.join(ROOT, 'web', 'build', 'index.html'))) {
    throw new Error('web/build is missing: run "npm run build" first');
  }
  return spawnOrchestrator({
    cwd: ROOT,
    env: { DATA_DIR: dataDir, WEB_DIR: path.join(ROOT, 'web', 'build'), ...env },
  });
}

const suite = hasBrowser ? describe : describe.skip;

suite('dashboard and browser agent in Chromium', () => {
  // The test owns the data dir so that the orchestrator can be restarted on it.
  const data = tempDir('expressionist-web-e2e-');
  let orchestrator: OrchestratorProcess | undefined;
  let browser: Browser | undefined;
  let base = '';
  let client: Api;

  beforeAll(async () => {
    orchestrator = await startOrchestrator(data.dir, {
      TIME_ADDITION_MS: '100',
      TIME_SUBTRACTION_MS: '100',
      TIME_MULTIPLICATIONS_MS: '300',
      TIME_DIVISIONS_MS: '300',
    });
    base = orchestrator.url;
    client = api(base);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await orchestrator?.stop();
    data.remove();
  });

  it('computes a submitted expression once this tab becomes an agent', async () => {
    const context = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const page = await openDashboard(context, base);
      await page.getByTestId('expression-input').fill('(2+3)*4 - 10/4');
      await page.getByTestId('expression-input').press('Enter');

      const row = page.locator('[data-testid=expression-row]', { hasText: '(2+3)*4 - 10/4' });
      await row.waitFor();
      // No agent anywhere: nothing can start, and the row says it waits for an agent.
      await row.getByTestId('expr-waiting').waitFor();
      expect(await row.getAttribute('data-status')).toBe('pending');

      await becomeAgent(page, 2);
      await page
        .locator('[data-testid=expression-row][data-status=done]', { hasText: '(2+3)*4 - 10/4' })
        .waitFor({ timeout: 20_000 });
      await expect.poll(() => row.getByTestId('expression-value').textContent()).toBe('= 17.5');

      const id = await row.getAttribute('data-id');
      const expression = await client.expression(id!);
      expect(expression.value).toBe('17.5');
      const operations = await client.operations(id!);
      expect(
        operations.every((op) => op.state === 'done' && op.agentName?.startsWith('tab-')),
      ).toBe(true);
      await expect
        .poll(async () =>
          Number(await page.getByTestId('agent-summary').getAttribute('data-completed')),
        )
        .toBe(operations.length);

      // A finished row can be deleted: it leaves the list, and the expression the store.
      await row.getByTestId('delete-expression').click();
      await row.waitFor({ state: 'detached' });
      expect((await client.call('GET', `/api/v1/expressions/${id!}`)).status).toBe(404);

      // Stopping hands the tab's slots back at once: the orchestrator sees the agent leave.
      const agentId = await page.evaluate(() => sessionStorage.getItem('expressionist.agentId'));
      await page.getByTestId('stop-agent').click();
      await page.locator('[data-testid=agent-control][data-active=false]').waitFor();
      await waitFor(
        async () => {
          const agents = await client.agents();
          const agent = agents.find((a) => a.id === agentId);
          return !agent || agent.status !== 'active';
        },
        30_000,
        'the orchestrator to notice the stopped agent',
        100,
      );
    } finally {
      await context.close();
    }
  });

  it('hands a closed tab’s running operation to the other tab and still gets the right value', async () => {
    await client.settings({ multiplicationMs: 4000 });
    const context = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const pageA = await openDashboard(context, base);
      const pageB = await openDashboard(context, base);
      const agentA = await becomeAgent(pageA, 1);
      const agentB = await becomeAgent(pageB, 1);
      expect(agentA).not.toBe(agentB);

      const id = await client.submit('(1 + 2) * (3 + 4)');
      const operations = await client.operations(id);
      const multiply = operations.find((op) => op.op === '*')!;
      // Task ids are opaque: who runs the multiplication is read from its operation view.
      const runningOn = async (): Promise<string | null> => {
        const op = (await client.operations(id)).find((o) => o.id === multiply.id);
        return op?.state === 'running' ? op.agentId : null;
      };

      // Find the tab the 4-second multiplication went to, from the orchestrator's point of view…
      const holder = await waitFor(
        async () => {
          const agentId = await runningOn();
          const agents = await client.agents();
          return agents.find((agent) => agentId !== null && agent.id === agentId);
        },
        30_000,
        'the multiplication to start',
        100,
      );
      expect([agentA, agentB]).toContain(holder.id);
      const [victim, survivor] = holder.id === agentA ? [pageA, pageB] : [pageB, pageA];
      // …and from the tab's own status panel.
      await expect
        .poll(() => victim.getByTestId('agent-summary').getAttribute('data-running'))
        .toBe('1');

      // Watch the failover on the survivor's detail page (client-side navigation keeps its worker).
      await survivor.locator(`[data-testid=expression-row][data-id="${id}"] a`).click();
      await survivor.getByTestId('dag').waitFor();

      await victim.close();

      await waitFor(
        async () => {
          const survivorId = holder.id === agentA ? agentB : agentA;
          return (await runningOn()) === survivorId;
        },
        15_000,
        'the multiplication to be reassigned',
        100,
      );
      await survivor
        .locator(`[data-op="${multiply.id}"][data-state=running]`)
        .waitFor({ timeout: 10_000 });
      await survivor.screenshot({
        path: path.join(SCREENSHOTS, 'detail-failover-light.png'),
        fullPage: true,
      });

      await survivor.getByTestId('detail-value').waitFor({ timeout: 20_000 });
      expect(await survivor.getByTestId('detail-value').textContent()).toBe('= 21');
      const expression = await client.expression(id);
      expect(expression.status).toBe('done');
      expect(expression.value).toBe('21');
      const after = await client.operations(id);
      const finalMultiply = after.find((op) => op.id === multiply.id)!;
      expect(finalMultiply.reassigned).toBeGreaterThanOrEqual(1);
      expect(finalMultiply.attempt).toBeGreaterThanOrEqual(2);
    } finally {
      await context.close();
      await client.settings({ multiplicationMs: 300 });
    }
  }, 90_000);

  it('points a caret at the parse error and shows a settings change saved in another tab', async () => {
    const context = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const page = await openDashboard(context, base);
      await page.getByTestId('expression-input').fill('2 * (3 + )');
      await page.getByTestId('submit').click();
      const error = page.getByTestId('caret-error');
      await error.waitFor();
      expect(await error.locator('.src').textContent()).toBe('2 * (3 + )');
      // The server reports the 0-based column of the `)`; the caret sits right under it.
      expect(await error.locator('.caret').getAttribute('data-column')).toBe('9');
      expect(await error.locator('.caret').textContent()).toBe(`${' '.repeat(9)}^`);
      // The message counts columns from 1 and follows the chosen language (translated by code).
      expect(await error.locator('.message').textContent()).toContain(
        "Unexpected ')' at column 10",
      );
      await page.locator('button[lang=ru]').click();
      await expect
        .poll(() => error.locator('.message').textContent())
        .toContain("Неожиданный ')' в столбце 10: ожидалось число");
      await page.locator('button[lang=en]').click();
      expect(await page.getByTestId('expression-input').getAttribute('aria-invalid')).toBe('true');

      const editor = await openDashboard(context, `${base}/settings`);
      const watcher = await openDashboard(context, `${base}/settings`);
      const field = editor.getByTestId('setting-additionMs');
      await field.fill('12.5');
      await field.blur();
      await expect
        .poll(() => editor.getByTestId('setting-error-additionMs').textContent())
        .toMatch(/whole number/);
      await field.fill('1234');
      await editor.getByTestId('settings-save').click();
      await editor.getByTestId('toast').filter({ hasText: 'Settings saved.' }).waitFor();
      await expect.poll(() => watcher.getByTestId('setting-additionMs').inputValue()).toBe('1234');
      const settings = await client.currentSettings();
      expect(settings.additionMs).toBe(1234);

      // Retention is shown and typed in days; the API keeps milliseconds.
      const retention = editor.getByTestId('setting-retentionMs');
      expect(await retention.inputValue()).toBe(String(settings.retentionMs / 86_400_000));
      await retention.fill('2,5');
      await editor.getByTestId('settings-save').click();
      await expect
        .poll(async () => (await client.currentSettings()).retentionMs)
        .toBe(2.5 * 86_400_000);
      await expect.poll(() => watcher.getByTestId('setting-retentionMs').inputValue()).toBe('2.5');
      await retention.fill('36501');
      await retention.blur();
      await expect
        .poll(() => editor.getByTestId('setting-error-retentionMs').textContent())
        .toMatch(/between 0 and 36,500 days/);
    } finally {
      await context.close();
      await client.settings({ additionMs: 100, retentionMs: 30 * 86_400_000 });
    }
  });

  it('captures every page in light and dark theme, at desktop and phone width', async () => {
    // One tab acts as the agent so the agents page and the results have something to show.
    const agentContext = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const agentPage = await openDashboard(agentContext, base);
      await becomeAgent(agentPage, 4);
      const expressions = [
        '1 + 2 + 3 + 4 + 5 + 6 + 7 + 8',
        '0.1 + 0.2',
        '(1.5 * 4 - 2) * (7 - 3) / (2 + 0.5)',
        '10 / (5 - 5)',
      ];
      const ids: string[] = [];
      for (const expression of expressions) {
        const id = await client.submit(expression);
        ids.push(id);
      }
      await waitFor(
        async () => {
          const views = await Promise.all(ids.map((id) => client.expression(id)));
          return views.every((v) => v.status === 'done' || v.status === 'error');
        },
        30_000,
        'the sample expressions to finish',
        100,
      );
      const detailId = ids[2]!;

      const shots: { name: string; route: string; ready: string }[] = [
        { name: 'home', route: '/', ready: '[data-testid=expression-row]' },
        { name: 'detail', route: `/expressions/${detailId}`, ready: '[data-testid=dag]' },
        { name: 'agents', route: '/agents', ready: '[data-testid=agents-table]' },
        { name: 'settings', route: '/settings', ready: '[data-testid=settings-form]' },
      ];
      const variants = [
        { theme: 'light' as const, width: 1280, height: 800, suffix: 'light' },
        { theme: 'dark' as const, width: 1280, height: 800, suffix: 'dark' },
        { theme: 'light' as const, width: 375, height: 740, suffix: 'phone-light' },
        { theme: 'dark' as const, width: 375, height: 740, suffix: 'phone-dark' },
      ];
      for (const variant of variants) {
        // The theme follows prefers-color-scheme until the user picks one.
        const context = await browser!.newContext({
          viewport: { width: variant.width, height: variant.height },
          colorScheme: variant.theme,
        });
        try {
          const page = await openDashboard(context, base);
          expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe(
            variant.theme,
          );
          for (const shot of shots) {
            if (shot.name === 'agents') {
              // Give the agent a few seconds of work so the table and the chart show activity.
              const terms = Array.from(
                { length: 400 },
                (_, i) => i + 1 + variant.width + ids.length,
              );
              ids.push('busy');
              await client.submit(terms.join(' + '));
            }
            await page.goto(`${base}${shot.route}`);
            await page.locator(shot.ready).first().waitFor();
            await page.locator('[data-testid=connection-state][data-state=connected]').waitFor();
            // Let colour transitions settle; on the agents page let the throughput line grow.
            await page.waitForTimeout(shot.name === 'agents' ? 3500 : 400);
            // Rows skip rendering off screen (content-visibility); a full-page capture wants them all.
            await page.addStyleTag({ content: '* { content-visibility: visible !important; }' });
            await page.screenshot({
              path: path.join(SCREENSHOTS, `${shot.name}-${variant.suffix}.png`),
              fullPage: true,
            });
          }
        } finally {
          await context.close();
        }
      }
    } finally {
      await agentContext.close();
    }
  }, 120_000);
  it('shows a reconnecting banner while the orchestrator is down and reloads state after', async () => {
    const context = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const page = await openDashboard(context, base);
      await page.locator('[data-testid=expression-row]').first().waitFor();
      const rowsBefore = await page.locator('[data-testid=expression-row]').count();
      const port = new URL(base).port;

      await orchestrator!.stop();
      const banner = page.getByTestId('connection-banner');
      await banner.waitFor({ timeout: 15_000 });
      expect(await banner.textContent()).toContain('Connection lost — reconnecting…');
      await page.screenshot({ path: path.join(SCREENSHOTS, 'reconnecting-light.png') });

      orchestrator = await startOrchestrator(data.dir, { PORT: port });
      await banner.waitFor({ state: 'detached', timeout: 20_000 });
      await page.locator('[data-testid=connection-state][data-state=connected]').waitFor();
      // The fresh snapshot replaced the list: same (persisted) expressions, still live.
      await expect
        .poll(() => page.locator('[data-testid=expression-row]').count())
        .toBe(rowsBefore);
      await page.getByTestId('expression-input').fill('6 * 7');
      await page.getByTestId('expression-input').press('Enter');
      await page
        .locator('[data-testid=expression-row][data-status=pending]', { hasText: '6 * 7' })
        .waitFor();
    } finally {
      await context.close();
    }
  }, 60_000);
});
