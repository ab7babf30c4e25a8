/**
 * CSV for spreadsheets, streamed: rows are written as they are read, page by
 * page, waiting for the socket to drain, so an export of many rows never sits in
 * memory whole and a slow client slows the reads instead of filling a buffer.
 */
import { once } from 'node:events';
import type { Response } from 'express';

/**
 * Quotes when needed (RFC 4180). A cell a spreadsheet would read as a formula
 * (=, +, -, @, tab, CR first) gets a leading apostrophe: references and names
 * come from clients, and an export must not run their formulas on an analyst's machine.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text) && !/^-?[0-9]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const csvLine = (cells: readonly unknown[]) => `${cells.map(csvCell).join(',')}\r\n`;

export function startCsv(res: Response, filename: string, header: readonly string[]): void {
  res.status(200);
  res.setHeader('Content-Type', 'text/csv; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="${filename}"`);
  res.write(csvLine(header));
}

/** Writes a chunk, waiting while the socket's buffer is full. False when the client went away. */
export async function writeCsv(res: Response, chunk: string): Promise<boolean> {
  if (res.destroyed) return false;
  if (!res.write(chunk)) {
    await Promise.race([once(res, 'drain'), once(res, 'close')]);
  }
  return !res.destroyed;
}
