/**
 * Command-line options every bench script shares, and how a bench script knows it is run directly.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

/** Options every bench script accepts. */
export interface BenchArgs {
  /** A smaller run (fewer sizes, trials and operations) for a quick look. */
  quick: boolean;
  /** Run the orchestrator under `node --cpu-prof` and print its hot spots (benches that support it). */
  profile: boolean;
  /**
   * `--orchestrator-flags="<node flags>"`, repeatable: benches that support it measure the
   * orchestrator as is, then once per flag set (e.g. `--max-semi-space-size=4`), in one run.
   */
  orchestratorFlags: string[];
}

/** Parses `--quick`, `--profile` and `--orchestrator-flags`; unknown flags are an error so typos do not go unnoticed. */
export function benchArgs(argv: string[] = process.argv.slice(2)): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      'orchestrator-flags': { type: 'string', multiple: true, default: [] },
    },
  });
  return {
    quick: values.quick === true,
    profile: values.profile === true,
    orchestratorFlags: values['orchestrator-flags'] ?? [],
  };
}

/** True when the module with this `import.meta.url` is the script node was started with. */
export function isMain(metaUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && pathToFileURL(entry).href === metaUrl;
}

/** Runs a bench's main function, printing a failure and exiting non-zero on error. */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (err: unknown) => {
      process.stderr.write(
        `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
