import {
  fitClass,
  forecastLine,
  formatCount,
  formatGiB,
  estimateBody,
  formatPercent,
  IEstimate,
  ISharding,
  LatestDebouncer,
  memoryRows,
  memoryWhere,
  offloadLine,
  ONE_GPU,
  parseGpus,
  shardingLine,
  splitControls,
  splitRequest
} from '../src/preflight';

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
      device: 'cuda',
      precision: 'bf16',
      batch_size: 8,
      seq_len: 256,
      total_bytes: 1000,
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

const GIB = 1024 ** 3;

/** A reply of `POST /ft-jupyter/estimate`, trimmed to what the pre-flight reads. */
function reply(extra: Partial<IEstimate> = {}): IEstimate {
  return {
    model: 'tiny-random',
    license: null,
    params_total: 1000,
    params_trainable: 10,
    trainable_percent: 1,
    memory: { device: 'cuda', precision: 'bf16', batch_size: 8, seq_len: 256, terms: [], total_bytes: 2 * GIB },
    gpu_fit: [],
    warnings: [],
    seq_len_note: '',
    ...extra
  };
}

const ZERO3: ISharding = {
  strategy: 'zero3',
  label: 'ZeRO-3 + CPU offload',
  gpus: 4,
  offload: true,
  per_gpu_total_bytes: 1.5 * GIB,
  single_gpu_total_bytes: 6 * GIB,
  cpu_bytes_all_processes: 0.5 * GIB,
  communication: { bytes_per_step: 0.25 * GIB, formula: '(4−1)/4 × (2 × parameters)', sentence: '1.5× DDP volume.' },
  notes: ['a note on live parameters']
};

describe('splitting the run over GPUs', () => {
  const config = { model: { name: 'tiny-random' }, method: { r: 64 } };

  it('sends nothing extra for one GPU, whatever split was picked before', () => {
    expect(estimateBody(config, ONE_GPU)).toEqual({ config });
    expect(estimateBody(config, { gpus: 1, strategy: 'zero3', offload: true })).toEqual({ config });
  });

  it('sends the config with the split for several GPUs', () => {
    expect(estimateBody(config, { gpus: 4, strategy: 'zero3', offload: false })).toEqual({
      config,
      gpus: 4,
      strategy: 'zero3',
      offload: false
    });
  });

  it('sends the split for several GPUs, offload only for ZeRO', () => {
    expect(splitRequest({ gpus: 4, strategy: 'zero3', offload: true })).toEqual({
      gpus: 4,
      strategy: 'zero3',
      offload: true
    });
    expect(splitRequest({ gpus: 2, strategy: 'zero1', offload: false })).toEqual({
      gpus: 2,
      strategy: 'zero1',
      offload: false
    });
    // The checkbox was ticked under zero2, then the split changed: the server would reject offload for these.
    expect(splitRequest({ gpus: 8, strategy: 'ddp', offload: true })).toEqual({
      gpus: 8,
      strategy: 'ddp',
      offload: false
    });
    expect(splitRequest({ gpus: 8, strategy: 'fsdp', offload: true }).offload).toBe(false);
  });

  it('shows the split only for several GPUs, and offload only for ZeRO stages', () => {
    expect(splitControls(ONE_GPU)).toEqual({ strategy: false, offload: false });
    expect(splitControls({ gpus: 1, strategy: 'zero3', offload: false })).toEqual({ strategy: false, offload: false });
    expect(splitControls({ gpus: 2, strategy: 'ddp', offload: false })).toEqual({ strategy: true, offload: false });
    expect(splitControls({ gpus: 2, strategy: 'fsdp', offload: false })).toEqual({ strategy: true, offload: false });
    for (const strategy of ['zero1', 'zero2', 'zero3'] as const) {
      expect(splitControls({ gpus: 4, strategy, offload: false })).toEqual({ strategy: true, offload: true });
    }
  });

  it('takes whole GPU counts from 1 to 64 and says why others are refused', () => {
    expect(parseGpus('4')).toEqual({ ok: true, value: 4 });
    expect(parseGpus(' 64 ')).toEqual({ ok: true, value: 64 });
    for (const bad of ['0', '65', '2.5', '', '-1', 'four']) {
      const parsed = parseGpus(bad);
      expect(parsed.ok).toBe(false);
      expect(!parsed.ok && parsed.error).toContain('1 to 64');
    }
  });
});

describe('pre-flight lines from sample replies', () => {
  it('has no sharding lines for one GPU', () => {
    const e = reply({ sharding: null });
    expect(shardingLine(e)).toBeNull();
    expect(offloadLine(e)).toBeNull();
    expect(memoryWhere(e)).toBe('on a GPU');
    expect(memoryWhere(reply({ memory: { ...e.memory, device: 'cpu' } }))).toBe('on cpu');
  });

  it('reads memory per GPU against one GPU alone, with the traffic on hover', () => {
    const e = reply({ sharding: ZERO3 });
    const line = shardingLine(e);
    expect(line?.text).toBe('4 GPUs × ZeRO-3 + CPU offload: 1.50 GiB per GPU (one GPU alone 6.00 GiB)');
    expect(line?.title.split('\n')).toEqual([
      '1.5× DDP volume.',
      '0.25 GiB sent per GPU per optimizer step = (4−1)/4 × (2 × parameters)',
      'a note on live parameters'
    ]);
    expect(memoryWhere(e)).toBe('per GPU');
    expect(offloadLine(e)).toBe('CPU RAM for offloaded state: 0.50 GiB for all 4 processes');
  });

  it('leaves out CPU RAM and traffic when there are none', () => {
    const e = reply({
      sharding: { ...ZERO3, offload: false, cpu_bytes_all_processes: 0, communication: null, notes: [] }
    });
    expect(offloadLine(e)).toBeNull();
    expect(shardingLine(e)?.title).toBe('');
  });

  it('gives time and cost from the forecast, with how it was reached on hover', () => {
    const e = reply({
      forecast: {
        headline: '≈ 1.9 s on 4 × T4 (nominal), 0.00208 GPU-hours, ≈ $0.00',
        gpu: 'T4',
        gpus: 4,
        wall_s: 1.9,
        gpu_hours: 0.00208,
        cost: 0.0007,
        tokens_text: '69 steps × 32 rows = 196,450 tokens',
        how: ['T4: 65 TFLOPS peak × MFU 0.35'],
        notes: ['nominal: from an assumed MFU']
      },
      forecast_error: null
    });
    expect(forecastLine(e)).toEqual({
      text: 'Time and cost: ≈ 1.9 s on 4 × T4 (nominal), 0.00208 GPU-hours, ≈ $0.00',
      title: '69 steps × 32 rows = 196,450 tokens\nT4: 65 TFLOPS peak × MFU 0.35\nnominal: from an assumed MFU',
      error: false
    });
  });

  it('says why there is no forecast, and shows nothing for a server without forecasts', () => {
    const e = reply({ forecast: null, forecast_error: 'data.path = x.jsonl: no such file' });
    expect(forecastLine(e)).toEqual({
      text: 'Time and cost: data.path = x.jsonl: no such file',
      title: '',
      error: true
    });
    expect(forecastLine(reply())).toBeNull();
  });
});
