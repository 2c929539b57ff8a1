// The training log, the run folder's log.jsonl: one JSON object per line (step, epoch, stage,
// losses, lr, seconds), appended by the trainer (TrainLog), read by reports (TrainLog.read, strict)
// and by the studio while a run may be writing it (readLogSoFar: a line cut by a kill is skipped).
import { appendFile, readFile, writeFile } from 'node:fs/promises';

export interface LogEntry {
  step: number;
  epoch: number;
  stage: string;
  lr: number;
  /** Seconds of this step. */
  seconds: number;
  /** Data parallel: seconds this step waited for the gradient all-reduce after backward. */
  comm?: number;
  /** fp16: the loss scale after this step. */
  lossScale?: number;
  losses: Record<string, number>;
  /** Set when the step was skipped (a non-finite loss). */
  skipped?: string;
}

export class TrainLog {
  private pending: string[] = [];
  constructor(readonly file: string) {}

  add(e: LogEntry): void {
    this.pending.push(JSON.stringify(e));
  }

  /** Appends what was added since the last flush (called with each checkpoint and at the end). */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const text = this.pending.join('\n') + '\n';
    this.pending = [];
    await appendFile(this.file, text);
  }

  /**
   * Drops entries after `step` (a resumed run continues from its checkpoint; steps logged after it
   * by the interrupted run are written again).
   */
  static async truncateAfter(file: string, step: number): Promise<void> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      return;
    }
    const kept = text.split('\n').filter((l) => {
      if (!l.trim()) return false;
      try {
        return (JSON.parse(l) as LogEntry).step <= step;
      } catch {
        return false; // a line cut by a kill
      }
    });
    await writeFile(file, kept.length ? kept.join('\n') + '\n' : '');
  }

  static async read(file: string): Promise<LogEntry[]> {
    const text = await readFile(file, 'utf8');
    return text
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as LogEntry);
  }
}

/**
 * The entries of a log that may be being written (or was cut by a kill): null when there is no
 * log yet; lines that are not JSON (a partial last line) are skipped.
 */
export async function readLogSoFar(file: string): Promise<LogEntry[] | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  const entries: LogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      entries.push(JSON.parse(line) as LogEntry);
    } catch {
      // a partial last line
    }
  }
  return entries;
}
