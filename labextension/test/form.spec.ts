import {
  defaultConfig,
  fieldsFromSchema,
  formatValue,
  getValue,
  groupFields,
  IField,
  parseInput,
  setValue
} from '../src/form';
import { realSchema } from './schema';

const schema = realSchema();
const fields = fieldsFromSchema(schema);
const byPath = new Map(fields.map(f => [f.path, f]));

function field(path: string): IField {
  const found = byPath.get(path);
  if (found === undefined) {
    throw new Error(`no field ${path}`);
  }
  return found;
}

describe('fields from the RunConfig schema', () => {
  it('has key fields in the schema’s order, each with a help text', () => {
    const key = fields.filter(f => f.key);
    expect(key.length).toBeGreaterThan(15);
    for (const f of key) {
      expect(f.help.length).toBeGreaterThan(10);
    }
    expect(key.map(f => f.order)).toEqual([...new Set(key.map(f => f.order))]);
    expect(field('method.use_dora')).toMatchObject({ key: false, order: Number.MAX_SAFE_INTEGER });
  });

  it('offers the catalogue and the popular models for model.name', () => {
    const names = field('model.name').suggestions.map(s => s.value);
    expect(names.slice(0, 2)).toEqual(['smollm2-135m-instruct', 'tiny-random']);
    expect(names).toContain('Qwen/Qwen2.5-0.5B-Instruct');
    expect(field('model.name').suggestions.every(s => s.label.includes('params'))).toBe(true);
    expect(field('data.dataset').suggestions.map(s => s.value)).toContain('support-emails');
    expect(field('method.r').suggestions).toEqual([]);
  });

  it('reads kinds, choices and bounds from the schema', () => {
    expect(field('method.method')).toMatchObject({
      kind: 'choice',
      choices: ['lora', 'qlora', 'full', 'freeze', 'head']
    });
    expect(field('method.r')).toMatchObject({ kind: 'integer', min: 1, max: 1024, minExclusive: false });
    expect(field('training.learning_rate')).toMatchObject({ kind: 'number', min: 0, minExclusive: true });
    expect(field('method.target_modules').kind).toBe('list');
    expect(field('training.gradient_checkpointing').kind).toBe('boolean');
    expect(field('model.revision')).toMatchObject({ kind: 'text', nullable: true });
    expect(field('name')).toMatchObject({ section: 'run', kind: 'text' });
  });

  it('groups sections in form order with key fields first', () => {
    const sections = groupFields(fields, schema['x-ft-sections'] ?? []);
    expect(sections.map(s => s.name)).toEqual(['model', 'method', 'quantization', 'training', 'data', 'run']);
    const method = sections[1];
    expect(method.key.map(f => f.name)).toEqual([
      'method',
      'r',
      'alpha',
      'dropout',
      'target_preset',
      'target_modules',
      'freeze_train_blocks',
      'freeze_train_head'
    ]);
    expect(method.more.map(f => f.name)).toContain('use_dora');
    expect(groupFields(fields, ['run']).map(s => s.name)[0]).toBe('run');
    expect(sections.flatMap(s => [...s.key, ...s.more])).toHaveLength(fields.length);
  });

  it('builds the default config from the schema defaults', () => {
    const config = defaultConfig(fields);
    expect(getValue(config, 'method.r')).toBe(16);
    expect(getValue(config, 'name')).toBe('run');
    expect(getValue(config, 'method.target_modules')).toEqual([]);
    expect(Object.keys(config)).toEqual(['name', 'runs_dir', 'model', 'quantization', 'method', 'data', 'training']);
  });
});

describe('parsing what a learner types', () => {
  it('accepts numbers in range and says why others are refused', () => {
    expect(parseInput(field('method.r'), ' 32 ')).toEqual({ ok: true, value: 32 });
    expect(parseInput(field('training.learning_rate'), '2e-4')).toEqual({ ok: true, value: 0.0002 });
    const zero = parseInput(field('method.r'), '0');
    expect(zero).toEqual({ ok: false, error: expect.stringContaining('method.r must be ≥ 1 and ≤ 1024') });
    expect(parseInput(field('method.r'), '8.5')).toMatchObject({ ok: false, error: expect.stringContaining('whole') });
    expect(parseInput(field('training.learning_rate'), '0')).toMatchObject({
      ok: false,
      error: expect.stringContaining('> 0')
    });
    expect(parseInput(field('method.dropout'), 'abc')).toMatchObject({ ok: false });
    expect(parseInput(field('method.dropout'), '')).toMatchObject({ ok: false });
  });

  it('splits lists on commas and empties optional text to null', () => {
    expect(parseInput(field('method.target_modules'), 'q_proj, v_proj,,')).toEqual({
      ok: true,
      value: ['q_proj', 'v_proj']
    });
    expect(parseInput(field('model.revision'), '  ')).toEqual({ ok: true, value: null });
    expect(formatValue(['q_proj', 'v_proj'])).toBe('q_proj, v_proj');
    expect(formatValue(null)).toBe('');
  });

  it('checks the run name against the schema pattern', () => {
    expect(parseInput(field('name'), 'my-run_1')).toEqual({ ok: true, value: 'my-run_1' });
    expect(parseInput(field('name'), 'has space')).toMatchObject({ ok: false });
  });

  it('keeps model names verbatim, quotes and newlines included', () => {
    const name = 'x\'); import os #\n"';
    expect(parseInput(field('model.name'), name)).toEqual({ ok: true, value: name });
  });
});

describe('editing', () => {
  const base = defaultConfig(fields);

  it('never changes the config it was given', () => {
    const edited = setValue(base, 'method.r', 64);
    expect(getValue(edited, 'method.r')).toBe(64);
    expect(getValue(base, 'method.r')).toBe(16);
  });
});
