/**
 * What the config's fields mean together, interpreted from the schema's `x-ft-`
 * keywords: when a field applies, what an edit implies (couplings), the method
 * menu, options a person switches on, and presets to start from. The data is
 * the Python package's (config/semantics.py), and these functions apply it the
 * way config/form.py does, so the sidebar, the panel and the CLI agree.
 */

import {
  ConfigValues,
  FieldValue,
  formatValue,
  getValue,
  ICondition,
  IConfigSchema,
  ICoupling,
  IField,
  IMethodChoice,
  IOption,
  IPreset,
  setValue
} from './form';

export interface ISemantics {
  couplings: ICoupling[];
  methods: IMethodChoice[];
  options: Record<string, IOption>;
  presets: IPreset[];
}

export function semanticsFromSchema(schema: IConfigSchema): ISemantics {
  return {
    couplings: schema['x-ft-couplings'] ?? [],
    methods: schema['x-ft-methods'] ?? [],
    options: schema['x-ft-options'] ?? {},
    presets: schema['x-ft-presets'] ?? []
  };
}

/** JSON equality (lists element by element). */
export function same(a: FieldValue, b: FieldValue): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => x === b[i]);
  }
  return a === b;
}

export function holds(condition: ICondition, config: ConfigValues): boolean {
  const value = getValue(config, condition.path);
  if (condition.in !== undefined) {
    return condition.in.some(v => same(value, v));
  }
  return !(condition.not_in ?? []).some(v => same(value, v));
}

/** Why a field does nothing with the rest of this config (the form greys it out, saying why), or null. */
export function relevance(field: IField, config: ConfigValues): string | null {
  for (const condition of field.appliesWhen) {
    if (!holds(condition, config)) {
      return `${condition.why ?? 'not used'} (${condition.path} is ${formatValue(getValue(config, condition.path))})`;
    }
  }
  return null;
}

export interface IChange {
  path: string;
  value: FieldValue;
  note: string;
}

export interface IEdit {
  config: ConfigValues;
  /** Fields the edit changed besides those edited, each with why. */
  changes: IChange[];
  /** Every note of the edit in one line, or null when it changed nothing else. */
  note: string | null;
}

function target(coupling: ICoupling, config: ConfigValues): FieldValue {
  if (coupling.value_from === undefined) {
    return coupling.value ?? null;
  }
  return Number(getValue(config, coupling.value_from.path)) * coupling.value_from.times;
}

function noteOf(coupling: ICoupling, config: ConfigValues, value: FieldValue): string {
  return coupling.note.replace(/\{([a-z_.]+)\}/g, (_, key: string) =>
    formatValue(key === 'value' ? value : getValue(config, key))
  );
}

function edited(config: ConfigValues, changes: IChange[], headline: string | null = null): IEdit {
  const notes = [...(headline === null ? [] : [headline]), ...changes.map(c => c.note)];
  return { config, changes, note: notes.length > 0 ? notes.join(' ') : null };
}

/**
 * Set every path of `edits`, then apply the couplings each edit triggers, in
 * order (a coupled change triggers those on its own path in turn). A coupling
 * never overrides an edited path; `options` are the rules switched on.
 */
export function applyEdits(
  semantics: ISemantics,
  config: ConfigValues,
  edits: Record<string, FieldValue>,
  options: string[] = []
): IEdit {
  let next = config;
  for (const [path, value] of Object.entries(edits)) {
    next = setValue(next, path, value);
  }
  const changes: IChange[] = [];
  const fixed = new Set(Object.keys(edits));
  const queue = Object.keys(edits);
  while (queue.length > 0) {
    const path = queue.shift() as string;
    for (const coupling of semantics.couplings) {
      const switchedOff = coupling.option !== undefined && !options.includes(coupling.option);
      if (coupling.on !== path || fixed.has(coupling.set) || switchedOff) {
        continue;
      }
      if (!coupling.when.every(condition => holds(condition, next))) {
        continue;
      }
      const value = target(coupling, next);
      if (same(getValue(next, coupling.set), value)) {
        continue;
      }
      changes.push({ path: coupling.set, value, note: noteOf(coupling, next, value) });
      next = setValue(next, coupling.set, value);
      fixed.add(coupling.set);
      queue.push(coupling.set);
    }
  }
  return edited(next, changes);
}

/** Set one field and what it implies (choosing qlora sets a 4-bit base, say), saying what else changed. */
export function applyEdit(
  semantics: ISemantics,
  config: ConfigValues,
  path: string,
  value: FieldValue,
  options: string[] = []
): IEdit {
  return applyEdits(semantics, config, { [path]: value }, options);
}

/** The field the method menu stands in for (the first it sets: method.method), or null without a menu. */
export function methodMenuField(semantics: ISemantics): string | null {
  const first = semantics.methods[0];
  return first === undefined ? null : Object.keys(first.values)[0];
}

/** The method menu's entry for this config, or null when it matches none. */
export function methodKey(semantics: ISemantics, config: ConfigValues): string | null {
  const choice = semantics.methods.find(c =>
    Object.entries(c.values).every(([path, value]) => same(getValue(config, path), value))
  );
  return choice?.key ?? null;
}

export function chooseMethod(semantics: ISemantics, config: ConfigValues, key: string, options: string[] = []): IEdit {
  const choice = semantics.methods.find(c => c.key === key);
  if (choice === undefined) {
    throw new Error(`Unknown method ${key}; choose one of ${semantics.methods.map(c => c.key).join(', ')}.`);
  }
  return applyEdits(semantics, config, choice.values, options);
}

/** Switch on `option`: its couplings apply now, as if the fields they follow had just been edited. */
export function applyOption(semantics: ISemantics, config: ConfigValues, option: string): IEdit {
  let next = config;
  let changes: IChange[] = [];
  for (const coupling of semantics.couplings.filter(c => c.option === option)) {
    const edit = applyEdit(semantics, next, coupling.on, getValue(next, coupling.on), [option]);
    next = edit.config;
    changes = [...changes, ...edit.changes];
  }
  return edited(next, changes);
}

/** Options whose rule the config already follows (alpha is 2 × r): the form shows them switched on. */
export function optionsInForce(semantics: ISemantics, config: ConfigValues): string[] {
  return Object.keys(semantics.options).filter(name =>
    semantics.couplings
      .filter(c => c.option === name && c.when.every(condition => holds(condition, config)))
      .every(c => same(getValue(config, c.set), target(c, config)))
  );
}

/** The option that sets `path` while switched on, if one is on. */
export function optionSetting(semantics: ISemantics, path: string, options: string[]): string | null {
  return options.find(name => semantics.options[name]?.field === path) ?? null;
}

/** A preset in place of `config`, keeping where runs are written. */
export function startFrom(semantics: ISemantics, config: ConfigValues, name: string): IEdit {
  const preset = semantics.presets.find(p => p.name === name);
  if (preset === undefined) {
    throw new Error(`Unknown preset ${name}; choose one of ${semantics.presets.map(p => p.name).join(', ')}.`);
  }
  const values = JSON.parse(JSON.stringify(preset.values)) as ConfigValues;
  return edited({ ...config, ...values }, [], `Started from preset '${name}': ${preset.help}`);
}
