/**
 * Debian's Chromium for the browser suites, started the same way by each: headless, no sandbox
 * (root in CI), and without background networking — this machine's closed network refuses
 * Chromium's calls home, many at a time, otherwise. Screenshots go to artifacts/screenshots.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { ROOT } from '@expressionist/testkit';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.join(ROOT, 'artifacts', 'screenshots');
export const hasBrowser = existsSync(CHROMIUM);

/** Launches Chromium and makes sure the screenshot folder exists. */
export async function launchChromium(): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-gpu',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  mkdirSync(SCREENSHOTS, { recursive: true });
  return browser;
}
