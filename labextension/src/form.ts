/**
 * The Configure form's logic, apart from React so jest can test it: fields read
 * from the server's JSON Schema of RunConfig (help texts, choices and bounds all
 * come from the Python dataclasses; groups, order, when a field applies and what
 * it suggests from the schema's `x-ft-` keywords), the config as a plain object,
 * and text parsing with the schema's bounds. What an edit implies is semantics.ts.
 */

export type FieldValue = string | number | boolean | string[] | null;
export type SectionValues = Record<string, FieldValue>;
/** A RunConfig as JSON: top-level `name`, `runs_dir`, then one object per section. */
export type ConfigValues = Record<string, FieldValue | SectionValues>;

/** True of a config when the value at `path` is (`in`) or is not (`not_in`) one of the values. */
export interface ICondition {
  path: string;
  in?: FieldValue[];
  not_in?: FieldValue[];
  /** What the form says while an applies-when condition does not hold. */
  why?: string;
}

/** A value a free-text field offers (anything else may still be typed). */
export interface ISuggestion {
  value: string;
  label: string;
}

export interface IPropertySchema {
  type: string | string[];
  default?: FieldValue;
  description?: string;
  enum?: FieldValue[];
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
  pattern?: string;
  minLength?: number;
  title?: string;
  properties?: Record<string, IPropertySchema>;
  'x-ft-group'?: 'key' | 'advanced';
  'x-ft-order'?: number;
  'x-ft-applies-when'?: ICondition[];
  'x-ft-suggestions'?: ISuggestion[];
}

/** What an edit of `on` implies: when every `when` holds, `set` takes `value` (or `times` × another field's). */
export interface ICoupling {
  on: string;
  when: ICondition[];
  set: string;
  value?: FieldValue;
  value_from?: { path: string; times: number };
  note: string;
  /** Applies only while the person has switched this option on. */
  option?: string;
}

/** An entry of the method menu: several fields set together (method and quantization). */
export interface IMethodChoice {
  key: string;
  label: string;
  values: Record<string, FieldValue>;
}

/** A rule a person switches on (never applied silently), shown beside `field`. */
export interface IOption {
  label: string;
  help: string;
  field: string;
  flag: string;
}

export interface IPreset {
  name: string;
  help: string;
  /** Every field but runs_dir: where runs go is the person's, not the preset's. */
  values: ConfigValues;
}

export interface IConfigSchema {
  title?: string;
  properties: Record<string, IPropertySchema>;
  'x-ft-sections'?: string[];
  'x-ft-couplings'?: ICoupling[];
  'x-ft-methods'?: IMethodChoice[];
  'x-ft-options'?: Record<string, IOption>;
  'x-ft-presets'?: IPreset[];
}

export type FieldKind = 'choice' | 'boolean' | 'integer' | 'number' | 'text' | 'list';

export interface IField {
  /** Dotted path, e.g. `method.r`; top-level fields have no dot. */
  path: string;
  section: string;
  name: string;
  kind: FieldKind;
  help: string;
  choices: string[];
  nullable: boolean;
  min: number | null;
  minExclusive: boolean;
  max: number | null;
  pattern: string | null;
  defaultValue: FieldValue;
  /** Shown up front; the other fields of a section sit under "More settings". */
  key: boolean;
  /** A key field's place in the form (over all sections). */
  order: number;
  /** Conditions that must all hold for the field to do anything. */
  appliesWhen: ICondition[];
  suggestions: ISuggestion[];
}

export interface ISection {
  name: string;
  key: IField[];
  more: IField[];
}

function typesOf(prop: IPropertySchema): string[] {
  return Array.isArray(prop.type) ? prop.type : [prop.type];
}

function kindOf(prop: IPropertySchema): FieldKind {
  const types = typesOf(prop).filter(t => t !== 'null');
  if (prop.enum) {
    return 'choice';
  }
  switch (types[0]) {
    case 'boolean':
      return 'boolean';
    case 'integer':
      return 'integer';
    case 'number':
      return 'number';
    case 'array':
      return 'list';
    default:
      return 'text';
  }
}

function fieldOf(section: string, name: string, prop: IPropertySchema): IField {
  const path = section === 'run' ? name : `${section}.${name}`;
  const exclusive = prop.exclusiveMinimum !== undefined;
  return {
    path,
    section,
    name,
    kind: kindOf(prop),
    help: prop.description ?? '',
    choices: (prop.enum ?? []).filter(c => c !== null).map(String),
    nullable: typesOf(prop).includes('null'),
    min: exclusive ? (prop.exclusiveMinimum ?? null) : (prop.minimum ?? null),
    minExclusive: exclusive,
    max: prop.maximum ?? null,
    pattern: prop.pattern ?? null,
    defaultValue: prop.default ?? null,
    key: prop['x-ft-group'] === 'key',
    order: prop['x-ft-order'] ?? Number.MAX_SAFE_INTEGER,
    appliesWhen: prop['x-ft-applies-when'] ?? [],
    suggestions: prop['x-ft-suggestions'] ?? []
  };
}

/** Every field of the schema, in schema order, top-level fields under "run". */
export function fieldsFromSchema(schema: IConfigSchema): IField[] {
  const fields: IField[] = [];
  for (const [name, prop] of Object.entries(schema.properties)) {
    if (prop.properties) {
      for (const [inner, innerProp] of Object.entries(prop.properties)) {
        fields.push(fieldOf(name, inner, innerProp));
      }
    } else {
      fields.push(fieldOf('run', name, prop));
    }
  }
  return fields;
}

/** Fields grouped by section in the schema's `x-ft-sections` order (others after); key fields in their order. */
export function groupFields(fields: IField[], sectionOrder: string[]): ISection[] {
  const names = [...sectionOrder, ...fields.map(f => f.section)];
  const sections: ISection[] = [];
  for (const name of new Set(names)) {
    const own = fields.filter(f => f.section === name);
    if (own.length === 0) {
      continue;
    }
    const key = own.filter(f => f.key).sort((a, b) => a.order - b.order);
    sections.push({ name, key, more: own.filter(f => !f.key) });
  }
  return sections;
}

function split(path: string): [string | null, string] {
  const dot = path.indexOf('.');
  return dot < 0 ? [null, path] : [path.slice(0, dot), path.slice(dot + 1)];
}

export function getValue(config: ConfigValues, path: string): FieldValue {
  const [section, name] = split(path);
  if (section === null) {
    return (config[name] as FieldValue) ?? null;
  }
  const values = config[section] as SectionValues | undefined;
  return values?.[name] ?? null;
}

/** A new config with `path` set; the old object is left as it was. */
export function setValue(config: ConfigValues, path: string, value: FieldValue): ConfigValues {
  const [section, name] = split(path);
  if (section === null) {
    return { ...config, [name]: value };
  }
  const values = (config[section] as SectionValues | undefined) ?? {};
  return { ...config, [section]: { ...values, [name]: value } };
}

/** The config every field's schema default gives (equal to `RunConfig().to_dict()`). */
export function defaultConfig(fields: IField[]): ConfigValues {
  let config: ConfigValues = {};
  for (const field of fields) {
    config = setValue(config, field.path, field.defaultValue);
  }
  return config;
}

export type Parsed = { ok: true; value: FieldValue } | { ok: false; error: string };

function boundsText(field: IField): string {
  const parts: string[] = [];
  if (field.min !== null) {
    parts.push(`${field.minExclusive ? '>' : '≥'} ${field.min}`);
  }
  if (field.max !== null) {
    parts.push(`≤ ${field.max}`);
  }
  return parts.join(' and ');
}

function parseNumber(field: IField, text: string): Parsed {
  const trimmed = text.trim();
  const value = Number(trimmed);
  const what = field.kind === 'integer' ? 'a whole number' : 'a number';
  if (trimmed === '' || !Number.isFinite(value)) {
    return { ok: false, error: `${field.path} needs ${what}, e.g. ${field.defaultValue}.` };
  }
  if (field.kind === 'integer' && !Number.isInteger(value)) {
    return { ok: false, error: `${field.path} needs a whole number, not ${trimmed}.` };
  }
  const below = field.min !== null && (field.minExclusive ? value <= field.min : value < field.min);
  const above = field.max !== null && value > field.max;
  if (below || above) {
    return { ok: false, error: `${field.path} must be ${boundsText(field)}; ${trimmed} is out of range.` };
  }
  return { ok: true, value };
}

/** Text typed into a field as the value the config takes, or why it cannot be used. */
export function parseInput(field: IField, text: string): Parsed {
  switch (field.kind) {
    case 'integer':
    case 'number':
      return parseNumber(field, text);
    case 'list':
      return {
        ok: true,
        value: text
          .split(',')
          .map(s => s.trim())
          .filter(s => s.length > 0)
      };
    case 'boolean':
      return { ok: true, value: text === 'true' };
    default:
      if (text.trim() === '' && field.nullable) {
        return { ok: true, value: null };
      }
      if (field.pattern !== null && !new RegExp(field.pattern).test(text)) {
        return { ok: false, error: `${field.path} = ${JSON.stringify(text)} is not allowed: ${field.help}` };
      }
      return { ok: true, value: text };
  }
}

/** How a value reads in a text box (lists comma-separated, null empty). */
export function formatValue(value: FieldValue): string {
  if (value === null) {
    return '';
  }
  return Array.isArray(value) ? value.join(', ') : String(value);
}
