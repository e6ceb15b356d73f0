/**
 * Light/dark theme. Until the user picks one it follows `prefers-color-scheme`, live; a pick is
 * persisted. `app.html` applies the stored choice before first paint to avoid a flash.
 */
export type Theme = 'light' | 'dark';

const STORAGE_KEY = 'expressionist.theme';

function stored(): Theme | null {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return value === 'light' || value === 'dark' ? value : null;
  } catch {
    return null;
  }
}

function systemTheme(): Theme {
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

class ThemeState {
  current = $state<Theme>('light');
  #chosen = false;

  /** Applies the initial theme and follows the system setting while the user has not chosen. */
  init(): void {
    const choice = stored();
    this.#chosen = choice !== null;
    this.apply(choice ?? systemTheme());
    window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
      if (!this.#chosen) this.apply(systemTheme());
    });
  }

  toggle(): void {
    this.#chosen = true;
    const next: Theme = this.current === 'dark' ? 'light' : 'dark';
    try {
      localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // not persisted
    }
    this.apply(next);
  }

  private apply(theme: Theme): void {
    this.current = theme;
    document.documentElement.dataset.theme = theme;
  }
}

export const theme = new ThemeState();
