import type { CommandContext } from './context.js';

/** Prints rows as aligned columns under a bold header; "(none)" for no rows. */
export function printTable(ctx: CommandContext, header: string[], rows: string[][]): void {
  // Widths ignore ANSI colour codes so coloured cells still line up.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI escapes
  const visible = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, '').length;
  const widths = header.map((title, i) =>
    Math.max(title.length, ...rows.map((row) => visible(row[i] ?? ''))),
  );
  const format = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visible(cell))))
      .join('  ');
  ctx.out.line(ctx.out.style.bold(format(header)));
  for (const row of rows) ctx.out.line(format(row));
  if (rows.length === 0) ctx.out.line(ctx.out.style.dim('(none)'));
}
