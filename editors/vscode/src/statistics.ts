/** The server's suggestion statistics (a flat object of numbers) as readable lines. */

export interface StatisticsLine {
  label: string;
  value: string;
}

/** Words of a camelCase or snake_case key: `latencyP50Ms` and `latency_ms_p50` both give
 * latency, p50, ms (in their own order). */
function words(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[\s_]+/)
    .filter(Boolean)
    .map((word) => word.toLowerCase());
}

function formatNumber(value: number): string {
  return Number.isInteger(value)
    ? value.toLocaleString('en-US')
    : value.toLocaleString('en-US', { maximumFractionDigits: 1 });
}

export function statisticsLine(key: string, value: unknown): StatisticsLine {
  const parts = words(key);
  const inMilliseconds = parts.includes('ms');
  const isRate = parts.includes('rate');
  const labelWords = parts.filter((word) => word !== 'ms');
  const label = labelWords.join(' ').replace(/^./, (first) => first.toUpperCase());
  let text: string;
  if (value === null || value === undefined) {
    text = 'none yet';
  } else if (typeof value !== 'number') {
    text = String(value);
  } else if (isRate && value <= 1) {
    text = `${formatNumber(value * 100)} %`;
  } else {
    text = inMilliseconds ? `${formatNumber(value)} ms` : formatNumber(value);
  }
  return { label, value: text };
}

/** One line per key, in the server's order; undefined when the answer is not an object. */
export function statisticsLines(statistics: unknown): StatisticsLine[] | undefined {
  if (typeof statistics !== 'object' || statistics === null || Array.isArray(statistics)) {
    return undefined;
  }
  return Object.entries(statistics).map(([key, value]) => statisticsLine(key, value));
}
