/**
 * CSV for spreadsheets, streamed: rows are written as they are read, page by
 * page, waiting for the socket to drain, so an export of many rows never sits in
 * memory whole and a slow client slows the reads instead of filling a buffer.
 */
import { once } from 'node:events';
import type { Request, Response } from 'express';

/** The characters a spreadsheet reads a formula from when a cell starts with one (OWASP, CSV injection). */
const FORMULA_START = /^[=+\-@\t\r]/;
/** A plain decimal number: the one text starting with `-` that no spreadsheet runs. */
const PLAIN_NUMBER = /^-?[0-9]+(\.[0-9]+)?$/;

/**
 * Quotes when needed (RFC 4180). A cell a spreadsheet would read as a formula
 * (=, +, -, @, tab, CR first) gets a leading apostrophe: names and references
 * come from clients, and an export must not run their formulas on an analyst's
 * machine. Only a whole plain number is left as it is.
 * Rationale: `-1+1` or `-2+3+cmd|' /C calc'!A0` start with a digit after the
 * minus and are formulas all the same, so "looks like a number at the start" is
 * not enough; the whole cell must be one.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (FORMULA_START.test(text) && !PLAIN_NUMBER.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const csvLine = (cells: readonly unknown[]) => `${cells.map(csvCell).join(',')}\r\n`;

function startCsv(res: Response, filename: string, header: readonly string[]): void {
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

/**
 * Sends `chunks` as a CSV attachment. The first chunk is read before the 200 is
 * sent, so a read that fails at once still gets an error answer. Once the 200 is
 * out, a failed read destroys the response: the client then sees a failed
 * transfer, where an ended one would pass for a complete file.
 */
export async function streamCsv(req: Request, res: Response, filename: string, header: readonly string[], chunks: AsyncIterable<string> | Iterable<string>): Promise<void> {
  const iterator = Symbol.asyncIterator in chunks ? chunks[Symbol.asyncIterator]() : chunks[Symbol.iterator]();
  let next = await iterator.next();
  startCsv(res, filename, header);
  try {
    for (; !next.done; next = await iterator.next()) if (!(await writeCsv(res, next.value))) return;
    res.end();
  } catch (error) {
    req.log.error({ err: error }, 'CSV export failed after its 200: response destroyed');
    res.destroy();
  }
}
