import { ConfigValues, defaultConfig, FieldValue, fieldsFromSchema, getValue, IField, setValue } from '../src/form';
import {
  applyEdit,
  applyOption,
  chooseMethod,
  IEdit,
  methodKey,
  methodMenuField,
  optionSetting,
  optionsInForce,
  relevance,
  semanticsFromSchema,
  startFrom
} from '../src/semantics';
import { EditCase, pythonEdits, realSchema } from './schema';

const schema = realSchema();
const semantics = semanticsFromSchema(schema);
const fields = fieldsFromSchema(schema);
const base = defaultConfig(fields);

function field(path: string): IField {
  const found = fields.find(f => f.path === path);
  if (found === undefined) {
    throw new Error(`no field ${path}`);
  }
  return found;
}

const METHOD_VALUES = ['lora', 'qlora', 'full', 'freeze', 'head'];
const MODES = ['none', '8bit', '4bit'];
const packed = setValue(setValue(base, 'training.packing', true), 'data.mix_fraction', 0.1);
const custom = setValue(setValue(base, 'method.target_preset', 'custom'), 'method.target_modules', ['q_proj']);
// Every menu entry applied to the defaults, to a packed run and to each preset: every valid combination.
const STARTS: [string, ConfigValues][] = [
  ['defaults', base],
  ['packed', packed],
  ...semantics.presets.map((p): [string, ConfigValues] => [p.name, startFrom(semantics, base, p.name).config])
].flatMap(([name, config]) =>
  semantics.methods.map((m): [string, ConfigValues] => [
    `${name}+${m.key}`,
    chooseMethod(semantics, config, m.key).config
  ])
);

function tsEdit(c: EditCase): IEdit {
  switch (c.kind) {
    case 'edit':
      return applyEdit(semantics, c.start, c.path, c.value, c.options);
    case 'method':
      return chooseMethod(semantics, c.start, c.key, c.options);
    case 'option':
      return applyOption(semantics, c.start, c.option);
    case 'preset':
      return startFrom(semantics, c.start, c.name);
  }
}

function cases(): EditCase[] {
  const out: EditCase[] = [];
  for (const [, start] of STARTS) {
    for (const value of METHOD_VALUES) {
      out.push({ start, kind: 'edit', path: 'method.method', value, options: [] });
    }
    for (const value of MODES) {
      out.push({ start, kind: 'edit', path: 'quantization.mode', value, options: [] });
    }
    for (const m of semantics.methods) {
      out.push({ start, kind: 'method', key: m.key, options: [] });
    }
    for (const options of [[], ['alpha_follows_r']]) {
      out.push({ start, kind: 'edit', path: 'method.r', value: 8, options });
    }
  }
  out.push({ start: custom, kind: 'edit', path: 'method.target_preset', value: 'attention', options: [] });
  out.push({ start: setValue(base, 'method.r', 8), kind: 'option', option: 'alpha_follows_r' });
  out.push(...semantics.presets.map((p): EditCase => ({ start: packed, kind: 'preset', name: p.name })));
  return out;
}

describe('the sidebar applies the config package’s rules as Python does', () => {
  const all = cases();
  const expected = pythonEdits(all);

  it('gives the same config, changes and notes for every edit from every method × quantization combination', () => {
    expect(all.length).toBeGreaterThan(400);
    all.forEach((c, i) => {
      const edit = tsEdit(c);
      expect({ case: i, config: edit.config, changes: edit.changes }).toEqual({
        case: i,
        config: expected[i].config,
        changes: expected[i].changes
      });
      expect(edit.note).toBe(expected[i].notes.length > 0 ? expected[i].notes.join(' ') : null);
      expect(optionsInForce(semantics, edit.config)).toEqual(expected[i].in_force);
    });
  });

  it('says why a field does not apply, for every field and combination', () => {
    for (const [, config] of STARTS) {
      for (const f of fields) {
        const reason = relevance(f, config);
        expect(reason === null || reason.includes(' is ')).toBe(true);
      }
    }
  });
});

describe('couplings the learner sees', () => {
  it('pairs QLoRA with a 4-bit base, and says so', () => {
    const qlora = applyEdit(semantics, base, 'method.method', 'qlora');
    expect(getValue(qlora.config, 'quantization.mode')).toBe('4bit');
    expect(qlora.note).toContain('4bit');
    const full = applyEdit(semantics, qlora.config, 'method.method', 'full');
    expect(getValue(full.config, 'quantization.mode')).toBe('none');
    expect(getValue(applyEdit(semantics, base, 'quantization.mode', '4bit').config, 'method.method')).toBe('qlora');
    expect(getValue(applyEdit(semantics, qlora.config, 'quantization.mode', 'none').config, 'method.method')).toBe(
      'lora'
    );
    expect(applyEdit(semantics, base, 'method.r', 8).note).toBeNull();
  });

  it('moves alpha with r only while "keep alpha = 2 × r" is on', () => {
    expect(optionsInForce(semantics, base)).toEqual(['alpha_follows_r']);
    expect(getValue(applyEdit(semantics, base, 'method.r', 8).config, 'method.alpha')).toBe(32);
    const on = applyEdit(semantics, base, 'method.r', 8, ['alpha_follows_r']);
    expect(getValue(on.config, 'method.alpha')).toBe(16);
    expect(on.note).toBe('method.alpha set to 16: keep alpha = 2 × r is on.');
    expect(optionSetting(semantics, 'method.alpha', ['alpha_follows_r'])).toBe('alpha_follows_r');
    expect(optionSetting(semantics, 'method.alpha', [])).toBeNull();
  });

  it('offers the method menu, LoRA on an 8-bit base included, on method.method', () => {
    expect(methodMenuField(semantics)).toBe('method.method');
    const eight = chooseMethod(semantics, base, 'lora-8bit');
    expect([getValue(eight.config, 'method.method'), getValue(eight.config, 'quantization.mode')]).toEqual([
      'lora',
      '8bit'
    ]);
    expect(methodKey(semantics, eight.config)).toBe('lora-8bit');
    expect(methodKey(semantics, setValue(base, 'quantization.mode', '4bit'))).toBeNull();
    expect(() => chooseMethod(semantics, base, 'lora8')).toThrow('lora-8bit');
  });

  it('starts from a preset, keeping where runs go', () => {
    const mine = setValue(base, 'runs_dir', '/shared/runs');
    const edit = startFrom(semantics, mine, 'qlora-t4');
    expect(getValue(edit.config, 'runs_dir')).toBe('/shared/runs');
    expect(getValue(edit.config, 'quantization.mode')).toBe('4bit');
    expect(edit.note).toMatch(/^Started from preset 'qlora-t4': /);
    expect(semantics.presets.map(p => p.name)).toEqual(['cpu-quickstart', 'tiny-smoke', 'qlora-t4', 'full-small']);
  });

  it('greys out what the current config does not use, saying why', () => {
    const at = (path: string, value: FieldValue) => setValue(base, path, value);
    expect(relevance(field('method.r'), base)).toBeNull();
    expect(relevance(field('method.r'), at('method.method', 'full'))).toBe(
      'used by LoRA and QLoRA only (method.method is full)'
    );
    expect(relevance(field('method.target_modules'), base)).toContain('custom');
    expect(relevance(field('method.target_modules'), custom)).toBeNull();
    expect(relevance(field('quantization.quant_type'), base)).toContain('4-bit');
    expect(relevance(field('method.freeze_train_blocks'), base)).toContain('freeze');
    const head = at('method.method', 'head');
    expect(relevance(field('method.freeze_train_blocks'), head)).toBeNull();
    expect(relevance(field('method.freeze_train_head'), head)).toContain('freeze method only');
    expect(relevance(field('training.packing'), head)).toContain('head method');
    expect(relevance(field('training.decay_ratio'), at('training.scheduler', 'wsd'))).toBeNull();
  });
});
