/**
 * The Configure form's logic, apart from React so jest can test it: fields read
 * from the server's JSON Schema of RunConfig (help texts, choices and bounds all
 * come from the Python dataclasses), the config as a plain object, text parsing
 * with the schema's bounds, and the few couplings the form applies visibly.
 */

export type FieldValue = string | number | boolean | string[] | null;
export type SectionValues = Record<string, FieldValue>;
/** A RunConfig as JSON: top-level `name`, `runs_dir`, then one object per section. */
export type ConfigValues = Record<string, FieldValue | SectionValues>;

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
}

export interface IConfigSchema {
  title?: string;
  properties: Record<string, IPropertySchema>;
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
}

export interface ISection {
  name: string;
  key: IField[];
  more: IField[];
}

/** The settings a learner reaches for first, in the order the form shows them. */
export const KEY_FIELDS = [
  'model.name',
  'method.method',
  'method.r',
  'method.alpha',
  'method.dropout',
  'method.target_preset',
  'method.target_modules',
  'quantization.mode',
  'training.epochs',
  'training.max_steps',
  'training.learning_rate',
  'training.batch_size',
  'training.grad_accum',
  'training.max_seq_len',
  'training.gradient_checkpointing',
  'data.dataset',
  'name'
];

/** Sections in the order the form shows them; the top-level fields form "run". */
export const SECTION_ORDER = ['model', 'method', 'quantization', 'training', 'data', 'run'];

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
    key: KEY_FIELDS.includes(path)
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

/** Fields grouped by section in SECTION_ORDER; key fields in KEY_FIELDS order. */
export function groupFields(fields: IField[]): ISection[] {
  const names = [...SECTION_ORDER, ...fields.map(f => f.section).filter(s => !SECTION_ORDER.includes(s))];
  const sections: ISection[] = [];
  for (const name of new Set(names)) {
    const own = fields.filter(f => f.section === name);
    if (own.length === 0) {
      continue;
    }
    const key = own.filter(f => f.key).sort((a, b) => KEY_FIELDS.indexOf(a.path) - KEY_FIELDS.indexOf(b.path));
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

const LORA_ONLY = new Set([
  'method.r',
  'method.alpha',
  'method.dropout',
  'method.target_preset',
  'method.target_modules',
  'method.bias',
  'method.use_rslora',
  'method.use_dora'
]);

/** Whether a field does anything with the rest of this config (others are shown greyed, with why). */
export function relevance(config: ConfigValues, path: string): string | null {
  const method = getValue(config, 'method.method');
  if (LORA_ONLY.has(path) && method !== 'lora' && method !== 'qlora') {
    return `used by LoRA and QLoRA only (method is ${String(method)})`;
  }
  if (path === 'method.target_modules' && getValue(config, 'method.target_preset') !== 'custom') {
    return 'used when target_preset is custom';
  }
  if (path === 'method.freeze_train_blocks' && method !== 'freeze' && method !== 'head') {
    return 'used by the freeze and head methods only';
  }
  if (path === 'method.freeze_train_head' && method !== 'freeze') {
    return 'used by the freeze method only';
  }
  const quantOnly = ['quantization.quant_type', 'quantization.double_quant', 'quantization.compute_dtype'];
  if (quantOnly.includes(path) && getValue(config, 'quantization.mode') !== '4bit') {
    return 'used with 4-bit quantization only';
  }
  return null;
}

export interface IEdit {
  config: ConfigValues;
  /** Said to the learner whenever the form changed a second field for them. */
  note: string | null;
}

/**
 * Set `path`, then keep method and quantization compatible the way the config
 * rules require (QLoRA is LoRA on a 4-bit base), saying what else changed.
 */
export function applyEdit(config: ConfigValues, path: string, value: FieldValue): IEdit {
  let next = setValue(config, path, value);
  const mode = getValue(next, 'quantization.mode');
  if (path === 'method.method' && value === 'qlora' && mode !== '4bit') {
    next = setValue(next, 'quantization.mode', '4bit');
    return { config: next, note: 'quantization.mode set to 4bit: QLoRA trains adapters on a 4-bit base.' };
  }
  if (path === 'method.method' && value !== 'qlora' && mode === '4bit') {
    next = setValue(next, 'quantization.mode', 'none');
    return {
      config: next,
      note: `quantization.mode set to none: ${String(value)} needs an unquantized base (use qlora for 4-bit).`
    };
  }
  if (path === 'quantization.mode' && value === '4bit' && getValue(next, 'method.method') !== 'qlora') {
    next = setValue(next, 'method.method', 'qlora');
    return { config: next, note: 'method.method set to qlora: LoRA on a 4-bit base is QLoRA.' };
  }
  if (path === 'quantization.mode' && value !== '4bit' && getValue(next, 'method.method') === 'qlora') {
    next = setValue(next, 'method.method', 'lora');
    return { config: next, note: 'method.method set to lora: QLoRA needs a 4-bit base.' };
  }
  return { config: next, note: null };
}
