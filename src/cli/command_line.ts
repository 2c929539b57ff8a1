// Command lines that reports print ("reproduce this with ..."), built from the same commander
// definitions the CLI parses: each option is named by its attribute (camelCase) and looked up in
// the command, so a renamed or removed flag fails where the line is built, never in a user's shell.
import type { Command } from 'commander';

export type OptionValues = Record<string, string | number | boolean | null | undefined>;

/** `s` as one shell word: unchanged when it is safe, else in single quotes. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}

/**
 * `npx dermosynth NAME [SUB ...] --flag value ...` for the command `cmd` (or its subcommand path
 * `sub`), with `values` keyed by option attribute names. true gives a bare flag; false, null and
 * undefined are left out. `operands` follow the subcommand names.
 */
export function commandLine(
  cmd: Command,
  sub: readonly string[],
  values: OptionValues,
  operands: readonly string[] = [],
): string {
  let target = cmd;
  for (const name of sub) {
    const next = target.commands.find((c) => c.name() === name);
    if (!next)
      throw new Error(
        `command line: '${target.name()}' has no subcommand '${name}' (has: ${target.commands.map((c) => c.name()).join(', ')})`,
      );
    target = next;
  }
  const words = ['npx', 'dermosynth', cmd.name(), ...sub, ...operands.map(shellQuote)];
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || value === null || value === false) continue;
    const option = target.options.find((o) => o.attributeName() === key);
    if (!option) {
      throw new Error(
        `command line: '${[cmd.name(), ...sub].join(' ')}' has no option for '${key}' (has: ${target.options.map((o) => o.long).join(', ')})`,
      );
    }
    const flag = option.long ?? option.short!;
    if (value === true) {
      if (option.required || option.optional) throw new Error(`command line: ${flag} takes a value, got true`);
      words.push(flag);
    } else {
      if (!option.required && !option.optional)
        throw new Error(`command line: ${flag} is a switch, got the value ${JSON.stringify(value)}`);
      words.push(flag, shellQuote(String(value)));
    }
  }
  return words.join(' ');
}
