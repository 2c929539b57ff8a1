// Durations as the demo prints them: 45s, 3m07s.

export function formatSeconds(s: number): string {
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  const r = Math.round(s - 60 * m);
  return r === 60 ? `${m + 1}m00s` : `${m}m${String(r).padStart(2, '0')}s`;
}
