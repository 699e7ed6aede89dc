/** One measured figure, ours beside the naive baseline measured in the same run. */
export interface BenchRow {
  benchmark: string;
  scenario: string;
  metric: string;
  ours: number;
  baseline: number;
  /** Which direction is better; the printed ratio is always "times better" (> 1 means we win). */
  better: 'higher' | 'lower';
}

const fmt = (n: number) => (n === 0 ? '0' : n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(2) : n.toFixed(4));

export function printTable(rows: BenchRow[]): void {
  const header = ['benchmark', 'scenario', 'metric', 'ours', 'naive', 'ratio (x better)'];
  const body = rows.map((r) => {
    const ratio = r.better === 'higher' ? r.ours / r.baseline : r.baseline / r.ours;
    // A count where zero is possible (writes lost): 0 against 0 is a tie, 0 against more is not a ratio.
    const shown = Number.isNaN(ratio)
      ? '1.00x (both 0)'
      : Number.isFinite(ratio)
        ? `${ratio.toFixed(2)}x`
        : '∞';
    return [r.benchmark, r.scenario, r.metric, fmt(r.ours), fmt(r.baseline), shown];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of body) console.log(line(row));
}
