import {
  canExport,
  DEFAULT_EXPORT,
  downsample,
  formatCost,
  formatDuration,
  IRunSummary,
  IRunTrace,
  mayChange,
  Poller,
  progressText,
  sparklinePoints
} from '../src/runs';

function trace(extra: Partial<IRunTrace> = {}): IRunTrace {
  return {
    step: 5,
    max_steps: 50,
    eta_s: 45,
    cost: 0.005,
    end: null,
    loss: [
      [1, 2.5],
      [2, 2.25],
      [5, 1.5]
    ],
    ...extra
  };
}

function summary(state: string, extra: Partial<IRunSummary> = {}): IRunSummary {
  return {
    id: 'r1',
    owner: 'ada',
    mine: true,
    state,
    message: '',
    updated: null,
    stale: false,
    stop_requested: false,
    artifact: null,
    browser_path: 'runs/r1',
    trace: trace(),
    ...extra
  };
}

describe("the progress line from the server's run summary", () => {
  it('shows step, last loss, ETA and cost', () => {
    expect(progressText(trace())).toBe('step 5/50 · loss 1.500 · ETA 45 s · cost 0.0050');
  });

  it('drops the ETA once the run has ended', () => {
    expect(progressText(trace({ end: 'stopped', eta_s: null }))).toBe('step 5/50 · loss 1.500 · cost 0.0050');
    expect(progressText(trace({ end: 'stopped', eta_s: 12 }))).not.toContain('ETA');
  });

  it('is empty before the first step and leaves out what is unknown', () => {
    expect(progressText(trace({ step: null }))).toBe('');
    expect(progressText(trace({ max_steps: null, loss: [], eta_s: null, cost: 0 }))).toBe('step 5');
  });
});

describe('who may change a run', () => {
  it('is its owner or an instructor', () => {
    expect(mayChange(summary('running'), { instructor: false })).toBe(true);
    expect(mayChange(summary('running', { mine: false, owner: 'bob' }), { instructor: false })).toBe(false);
    expect(mayChange(summary('running', { mine: false, owner: 'bob' }), { instructor: true })).toBe(true);
  });
});

describe('sparkline', () => {
  it('downsamples evenly, keeping both ends', () => {
    const points = Array.from({ length: 1000 }, (_, i) => i);
    const few = downsample(points, 5);
    expect(few).toEqual([0, 250, 500, 749, 999]);
    expect(downsample([1, 2, 3], 5)).toEqual([1, 2, 3]);
  });

  it('maps the series into the box, high loss at the top', () => {
    const line = sparklinePoints(
      [
        [1, 3],
        [2, 2],
        [3, 1]
      ],
      102,
      22
    );
    expect(line).toBe('1.0,1.0 51.0,11.0 101.0,21.0');
    expect(sparklinePoints([], 100, 20)).toBe('');
    expect(sparklinePoints([[4, 1.5]], 100, 20)).toBe('50.0,10.0');
    expect(
      sparklinePoints(
        Array.from({ length: 500 }, (_, i) => [i, 1 / (i + 1)] as [number, number]),
        100,
        20,
        40
      ).split(' ')
    ).toHaveLength(40);
  });
});

describe('formatting', () => {
  it('formats durations and costs', () => {
    expect(formatDuration(42.4)).toBe('42 s');
    expect(formatDuration(185)).toBe('3 min 05 s');
    expect(formatDuration(7260)).toBe('2 h 01 min');
    expect(formatCost(0.01234)).toBe('0.012');
    expect(formatCost(3.456)).toBe('3.46');
  });
});

describe('Poller', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  async function flush(): Promise<void> {
    for (let i = 0; i < 5; i++) {
      await Promise.resolve();
    }
  }

  it('polls only while visible', async () => {
    let calls = 0;
    const poller = new Poller(
      async () => {
        calls++;
      },
      1000,
      () => undefined
    );
    jest.advanceTimersByTime(5000);
    expect(calls).toBe(0); // hidden from the start: nothing asked
    poller.setVisible(true);
    await flush();
    expect(calls).toBe(1); // shown: at once
    jest.advanceTimersByTime(1000);
    await flush();
    jest.advanceTimersByTime(1000);
    await flush();
    expect(calls).toBe(3);
    poller.setVisible(false);
    jest.advanceTimersByTime(10000);
    await flush();
    expect(calls).toBe(3);
    poller.setVisible(true);
    await flush();
    expect(calls).toBe(4);
    poller.dispose();
    jest.advanceTimersByTime(10000);
    await flush();
    expect(calls).toBe(4);
  });

  it('never runs two tasks at once and reports errors', async () => {
    let active = 0;
    let most = 0;
    const errors: unknown[] = [];
    let release: () => void = () => undefined;
    const poller = new Poller(
      () =>
        new Promise<void>((resolve, reject) => {
          active++;
          most = Math.max(most, active);
          release = () => {
            active--;
            reject(new Error('server gone'));
          };
        }),
      100,
      e => errors.push(e)
    );
    poller.setVisible(true);
    jest.advanceTimersByTime(1000);
    void poller.tick();
    await flush();
    expect(most).toBe(1);
    release();
    await flush();
    expect(errors).toHaveLength(1);
    poller.dispose();
  });
});

describe('export from the run list', () => {
  const run = (state: string, artifact: string | null, exportState?: string): IRunSummary =>
    summary(state, {
      artifact,
      export: exportState ? { state: exportState as 'running', message: '', report: null } : null
    });

  it('is offered for an ended run with a saved result and no export under way', () => {
    expect(canExport(run('finished', 'adapter'))).toBe(true);
    expect(canExport(run('stopped', 'adapter', 'failed'))).toBe(true);
    expect(canExport(run('finished', 'adapter', 'finished'))).toBe(true);
    expect(canExport(run('running', 'adapter'))).toBe(false);
    expect(canExport(run('failed', null))).toBe(false);
    expect(canExport(run('finished', 'adapter', 'running'))).toBe(false);
  });

  it('asks for a GGUF the Modelfile and the q8_0 score can use', () => {
    expect(DEFAULT_EXPORT.ollama).toBe(true);
    expect(DEFAULT_EXPORT.gguf).toContain('q8_0');
    expect(DEFAULT_EXPORT.quantized).toContain('q8_0');
  });
});
