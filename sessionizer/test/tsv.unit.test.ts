import { describe, expect, it } from 'vitest';
import { ByteChunks } from '../src/byte-chunks.ts';
import type { EventRow, SessionRow } from '../src/state/index.ts';
import {
  EVENT_COLUMNS,
  eventLine,
  SESSION_COLUMNS,
  sessionLine,
  tsvString,
  tsvStringArray,
} from '../src/tsv.ts';

/** A row whose every String column holds its own name and every numeric column its position. */
function labelled<Row>(columns: readonly string[], numeric: readonly string[]): Row {
  return Object.fromEntries(columns.map((c, i) => [c, numeric.includes(c) ? i : c])) as Row;
}

describe('TabSeparated bodies', () => {
  it('escape backslash, tab, line feed and carriage return and leave everything else as it is', () => {
    expect(tsvString('plain / ünïcødé 🎉 "q" \'s\' \u0000')).toBe('plain / ünïcødé 🎉 "q" \'s\' \u0000');
    expect(tsvString('a\\b\tc\nd\re\\N')).toBe('a\\\\b\\tc\\nd\\re\\\\N');
    expect(tsvString('')).toBe('');
  });

  it('write every column of an events_raw row in the column order', () => {
    const numeric = ['ts_ms', 'engaged_ms', 'scroll_depth', 'version'];
    const line = eventLine(labelled<EventRow>(EVENT_COLUMNS, numeric));
    expect(line.split('\t')).toEqual(EVENT_COLUMNS.map((c, i) => (numeric.includes(c) ? String(i) : c)));
  });

  it('write every column of a sessions_raw row in the column order', () => {
    const numeric = [
      'duration_s',
      'pageviews',
      'events',
      'engaged_ms',
      'max_scroll_depth',
      'is_bounce',
      'is_engaged',
      'has_conversion',
      'is_final',
      'deleted',
      'version',
    ];
    const row = labelled<SessionRow>(SESSION_COLUMNS, numeric);
    row.page_paths = ['/a', '/b'];
    row.page_path_views = [3, 1];
    const line = sessionLine(row);
    const arrays: Record<string, string> = { page_paths: "['/a','/b']", page_path_views: '[3,1]' };
    expect(line.split('\t')).toEqual(
      SESSION_COLUMNS.map((c, i) => arrays[c] ?? (numeric.includes(c) ? String(i) : c)),
    );
  });

  it('quote and escape the elements of a string array, so no raw tab or line feed reaches the line', () => {
    expect(tsvStringArray([])).toBe('[]');
    expect(tsvStringArray(['/', "it's", 'a\\b', 'tab\there', 'lf\ncr\r', 'ünï 🎉'])).toBe(
      "['/','it\\'s','a\\\\b','tab\\there','lf\\ncr\\r','ünï 🎉']",
    );
  });

  it('end every line with a line feed, and an empty body is empty', () => {
    const body = new ByteChunks();
    for (const s of ['a', 'b\tc']) body.appendLine(tsvString(s));
    expect(Buffer.concat(body.chunks()).toString('utf8')).toBe('a\nb\\tc\n');
    expect(new ByteChunks().chunks()).toEqual([]);
  });
});
