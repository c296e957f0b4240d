import {
  applyEdit,
  defaultConfig,
  fieldsFromSchema,
  formatValue,
  getValue,
  groupFields,
  IField,
  KEY_FIELDS,
  parseInput,
  relevance,
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
  it('has every key field, each with a help text', () => {
    for (const path of KEY_FIELDS) {
      expect(field(path).help.length).toBeGreaterThan(10);
    }
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
    const sections = groupFields(fields);
    expect(sections.map(s => s.name)).toEqual(['model', 'method', 'quantization', 'training', 'data', 'run']);
    const method = sections[1];
    expect(method.key.map(f => f.name)).toEqual(['method', 'r', 'alpha', 'dropout', 'target_preset', 'target_modules']);
    expect(method.more.map(f => f.name)).toContain('use_dora');
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

  it('pairs QLoRA with a 4-bit base, and says so', () => {
    const qlora = applyEdit(base, 'method.method', 'qlora');
    expect(getValue(qlora.config, 'quantization.mode')).toBe('4bit');
    expect(qlora.note).toContain('4bit');
    const back = applyEdit(qlora.config, 'method.method', 'full');
    expect(getValue(back.config, 'quantization.mode')).toBe('none');
    const viaMode = applyEdit(base, 'quantization.mode', '4bit');
    expect(getValue(viaMode.config, 'method.method')).toBe('qlora');
    expect(applyEdit(base, 'method.r', 8).note).toBeNull();
  });

  it('greys out what the current method does not use', () => {
    expect(relevance(base, 'method.r')).toBeNull();
    expect(relevance(setValue(base, 'method.method', 'full'), 'method.r')).toContain('LoRA');
    expect(relevance(base, 'method.target_modules')).toContain('custom');
    expect(relevance(setValue(base, 'method.target_preset', 'custom'), 'method.target_modules')).toBeNull();
    expect(relevance(base, 'quantization.quant_type')).toContain('4-bit');
    expect(relevance(base, 'method.freeze_train_blocks')).toContain('freeze');
    const head = setValue(base, 'method.method', 'head');
    expect(relevance(head, 'method.freeze_train_blocks')).toBeNull();
    expect(relevance(head, 'method.freeze_train_head')).toContain('freeze method only');
  });
});
