import { describe, expect, it } from 'vitest';
import { expandPanelSql, interpolateVariables } from './grafana-macros.ts';

const ctx = {
  from: Date.UTC(2024, 4, 1, 0, 0, 0),
  to: Date.UTC(2024, 4, 2, 12, 0, 0),
  intervalS: 3600,
  variables: { site: 'a.example' },
};

describe('Grafana macro expansion used by the Grafana SQL test', () => {
  it('expands the plugin macros to epoch-second DateTime literals as the plugin does', () => {
    expect(
      expandPanelSql('WHERE $__timeFilter(started_at) AND ts < $__toTime AND ts > $__fromTime', ctx),
    ).toBe(
      'WHERE started_at >= toDateTime(1714521600) AND started_at <= toDateTime(1714651200) AND ts < toDateTime(1714651200) AND ts > toDateTime(1714521600)',
    );
    expect(expandPanelSql('intDiv(x, $__interval_s) AND $__dateFilter(d)', ctx)).toBe(
      "intDiv(x, 3600) AND d >= toDate('2024-05-01') AND d <= toDate('2024-05-02')",
    );
  });

  it('substitutes variables in every Grafana syntax and quotes them with the singlequote format', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a JS template
    expect(interpolateVariables('$site ${site} [[site]] ${site:singlequote}', { site: "o'k" })).toBe(
      "o'k o'k o'k 'o\\'k'",
    );
  });

  it('refuses what it does not expand, such as $__timeInterval (toStartOfInterval is not on 18.16)', () => {
    expect(() => expandPanelSql('SELECT $__timeInterval(ts)', ctx)).toThrow(/unexpanded/);
    expect(() => expandPanelSql('SELECT $nope', ctx)).toThrow(/unknown dashboard variable/);
  });
});
