import { describe, expect, it } from 'vitest';
import {
  AgentHelloSchema,
  MAX_HOLDING,
  CourseTaskSchema,
  DEFAULT_SETTINGS,
  DURATION_KEYS,
  ErrorBodySchema,
  ExpressionViewSchema,
  SETTINGS_FIELDS,
  SettingsPatchSchema,
  SettingsSchema,
  durationOf,
} from '../src/index.js';

describe('settings table', () => {
  it('gives every operator exactly one duration field', () => {
    const timed = SETTINGS_FIELDS.flatMap((f) => (f.operator === null ? [] : [f.operator]));
    expect([...timed].sort()).toEqual(['*', '+', '-', '/']);
    for (const op of ['+', '-', '*', '/'] as const) {
      expect(durationOf(op, { ...DEFAULT_SETTINGS, [DURATION_KEYS[op]]: 4242 })).toBe(4242);
    }
  });

  it('derives the schema, the defaults and the bounds from the rows', () => {
    expect(Object.keys(SettingsSchema.shape)).toEqual(SETTINGS_FIELDS.map((f) => f.key));
    for (const f of SETTINGS_FIELDS) {
      expect(DEFAULT_SETTINGS[f.key]).toBe(f.default);
      expect(SettingsPatchSchema.safeParse({ [f.key]: f.max }).success).toBe(true);
      expect(SettingsPatchSchema.safeParse({ [f.key]: f.max + 1 }).success).toBe(false);
      expect(SettingsPatchSchema.safeParse({ [f.key]: f.min - 1 }).success).toBe(false);
    }
    expect(new Set(SETTINGS_FIELDS.map((f) => f.env)).size).toBe(SETTINGS_FIELDS.length);
  });
});

describe('view schemas', () => {
  const view = {
    id: 'e1',
    expression: '1/0',
    expressionLength: 3,
    status: 'error',
    result: null,
    value: null,
    error: { code: 'EXPR_DIV_ZERO', message: 'Division by zero.', position: 1 },
    createdAt: '2026-12-01T10:00:00.000Z',
    startedAt: null,
    finishedAt: '2026-12-01T10:00:01.000Z',
    progress: { done: 0, total: 1 },
    cached: false,
    estimatedFinishAt: null,
    waiting: null,
  };

  it('reads an error code newer than the reader as INTERNAL instead of dropping the view', () => {
    const parsed = ExpressionViewSchema.parse({
      ...view,
      error: { code: 'SOMETHING_NEW', message: 'x' },
      extra: 'stripped',
    });
    expect(parsed.error).toEqual({ code: 'INTERNAL', message: 'x' });
    expect(parsed).not.toHaveProperty('extra');
  });

  it('parses the REST error body with its optional field', () => {
    const body = { error: { code: 'SETTINGS_INVALID', message: 'm', field: 'additionMs' } };
    expect(ErrorBodySchema.parse(body)).toEqual(body);
  });

  it('takes a course task id as a number or a numeric string', () => {
    const task = { arg1: 1, arg2: 2, operation: '+', operation_time: 0 };
    expect(CourseTaskSchema.safeParse({ ...task, id: 7 }).success).toBe(true);
    expect(CourseTaskSchema.safeParse({ ...task, id: '7' }).success).toBe(true);
    expect(CourseTaskSchema.safeParse({ ...task, id: 'seven' }).success).toBe(false);
  });
});

describe('the agent hello', () => {
  const hello = { agentId: 'a', name: 'a', kind: 'node', concurrency: 2, protocol: 2 };
  const held = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ taskId: `t${i}`, attempt: 1 }));

  it('takes `holding` as optional: an agent from before the field is still understood', () => {
    expect(AgentHelloSchema.parse(hello)).toEqual(hello);
    expect(AgentHelloSchema.parse({ ...hello, holding: held(2) }).holding).toEqual(held(2));
  });

  it(`refuses more than ${MAX_HOLDING} held attempts, or malformed ones`, () => {
    expect(AgentHelloSchema.safeParse({ ...hello, holding: held(MAX_HOLDING) }).success).toBe(true);
    expect(AgentHelloSchema.safeParse({ ...hello, holding: held(MAX_HOLDING + 1) }).success).toBe(
      false,
    );
    const bad = [{ taskId: 'x'.repeat(201), attempt: 1 }, { taskId: 't', attempt: 0 }, 't'];
    for (const entry of bad)
      expect(AgentHelloSchema.safeParse({ ...hello, holding: [entry] }).success).toBe(false);
  });
});
