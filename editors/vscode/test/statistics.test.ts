import { statisticsLine, statisticsLines } from '../src/statistics';

test('camelCase and snake_case keys read as words, with units', () => {
  expect(
    statisticsLines({
      suggested: 1234,
      acceptedCharacters: 56,
      latencyP50Ms: 120.46,
      latency_ms_p90: 300,
    }),
  ).toEqual([
    { label: 'Suggested', value: '1,234' },
    { label: 'Accepted characters', value: '56' },
    { label: 'Latency p50', value: '120.5 ms' },
    { label: 'Latency p90', value: '300 ms' },
  ]);
});

test('rates are percentages and missing values say so', () => {
  expect(statisticsLine('acceptance_rate', 0.25)).toEqual({
    label: 'Acceptance rate',
    value: '25 %',
  });
  expect(statisticsLine('latencyP90Ms', null)).toEqual({ label: 'Latency p90', value: 'none yet' });
});

test('an answer that is not an object gives nothing', () => {
  expect(statisticsLines(null)).toBeUndefined();
  expect(statisticsLines([1, 2])).toBeUndefined();
  expect(statisticsLines('stats')).toBeUndefined();
});
