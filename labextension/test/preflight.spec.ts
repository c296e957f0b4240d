import { fitClass, formatCount, formatGiB, formatPercent, LatestDebouncer, memoryRows } from '../src/preflight';

describe('numbers as a learner reads them', () => {
  it('formats parameter counts', () => {
    expect(formatCount(134515008)).toBe('134.5 M');
    expect(formatCount(1235814400)).toBe('1.24 B');
    expect(formatCount(921600)).toBe('921.6 k');
    expect(formatCount(12)).toBe('12');
  });

  it('formats memory and shares', () => {
    expect(formatGiB(16 * 1024 ** 3)).toBe('16.0 GiB');
    expect(formatGiB(0.5 * 1024 ** 3)).toBe('0.50 GiB');
    expect(formatGiB(3 * 1024 ** 2)).toBe('3.0 MiB');
    expect(formatPercent(0.004)).toBe('< 0.01%');
    expect(formatPercent(0.91)).toBe('0.91%');
    expect(formatPercent(12.345)).toBe('12.3%');
  });

  it('lists memory terms largest first, without empty terms, with their arithmetic', () => {
    const term = (name: string, bytes: number, note = '') => ({ name, bytes, formula: `${name} formula`, note });
    const rows = memoryRows({
      device: 'cuda', precision: 'bf16', batch_size: 8, seq_len: 256, total_bytes: 1000,
      terms: [term('weights', 600), term('gradients', 100), term('optimizer', 300, 'AdamW'), term('activations', 0)]
    });
    expect(rows.map(r => r.label)).toEqual(['weights', 'optimizer', 'gradients']);
    expect(rows[0].share).toBeCloseTo(0.6);
    expect(rows[1].detail).toBe('optimizer formula — AdamW');
  });

  it('tells a tight fit from a comfortable one', () => {
    const gpu = { name: 'T4 16 GB', memory_gib: 15, headroom_gib: 1 };
    expect(fitClass({ ...gpu, fits: true, tight: true })).toBe('tight');
    expect(fitClass({ ...gpu, fits: true })).toBe('fits');
    expect(fitClass({ ...gpu, fits: false, headroom_gib: -3 })).toBe('nofit');
  });
});

describe('LatestDebouncer', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('calls once after values settle, with the last values', async () => {
    const calls: number[] = [];
    const results: number[] = [];
    const debouncer = new LatestDebouncer<number, number>(
      async r => {
        calls.push(r);
        return r * 2;
      },
      300,
      r => results.push(r),
      () => undefined
    );
    debouncer.request(8);
    jest.advanceTimersByTime(100);
    debouncer.request(16);
    jest.advanceTimersByTime(100);
    debouncer.request(64);
    expect(calls).toEqual([]);
    jest.advanceTimersByTime(300);
    await Promise.resolve();
    await Promise.resolve();
    expect(calls).toEqual([64]);
    expect(results).toEqual([128]);
  });

  it('drops a slow reply that a newer request overtook', async () => {
    const pending: ((v: string) => void)[] = [];
    const results: string[] = [];
    const debouncer = new LatestDebouncer<string, string>(
      () => new Promise<string>(resolve => pending.push(resolve)),
      10,
      r => results.push(r),
      () => undefined
    );
    debouncer.request('old');
    jest.advanceTimersByTime(10);
    debouncer.request('new');
    jest.advanceTimersByTime(10);
    pending[1]('new reply');
    pending[0]('old reply');
    await Promise.resolve();
    await Promise.resolve();
    expect(results).toEqual(['new reply']);
  });

  it('reports errors of the latest request only', async () => {
    const errors: unknown[] = [];
    const debouncer = new LatestDebouncer<number, number>(
      async () => {
        throw new Error('method.r = 0 is out of range');
      },
      5,
      () => undefined,
      e => errors.push(e)
    );
    debouncer.request(0);
    jest.advanceTimersByTime(5);
    await Promise.resolve();
    await Promise.resolve();
    expect(String(errors[0])).toContain('method.r');
    debouncer.request(1);
    debouncer.cancel();
    jest.advanceTimersByTime(5);
    await Promise.resolve();
    expect(errors).toHaveLength(1);
  });
});
