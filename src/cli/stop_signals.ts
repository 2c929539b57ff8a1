// SIGINT / SIGTERM for long commands: the first asks the work to stop at the next safe point
// (after a step or a batch, with everything written); a second stops the process at once.
export interface StopSignals {
  /** The signal received, or null. */
  readonly signal: NodeJS.Signals | null;
  /** The exit code for a stop by signal (130 for SIGINT, 143 for SIGTERM). */
  readonly exitCode: number;
  dispose(): void;
}

export function watchStopSignals(whatHappens: string, o: { quiet?: boolean } = {}): StopSignals {
  let signal: NodeJS.Signals | null = null;
  const on = (sig: NodeJS.Signals) => {
    if (signal) process.exit(sig === 'SIGINT' ? 130 : 143);
    signal = sig;
    if (!o.quiet) process.stderr.write(`\n${sig}: ${whatHappens} (send it again to stop at once)\n`);
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return {
    get signal() {
      return signal;
    },
    get exitCode() {
      return signal === 'SIGTERM' ? 143 : 130;
    },
    dispose() {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}
