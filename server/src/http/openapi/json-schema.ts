/**
 * JSON Schema from zod for the OpenAPI document: the schema type, and the conversions that drop
 * what zod adds but the contract does not say (document keys, `.catch` defaults).
 */
import { z } from 'zod';

export type JsonSchema = z.core.JSONSchema.JSONSchema;

/**
 * zod writes `.catch(x)` as `default: x`; on a response that reads as if the server filled the
 * field in. The catch is the reader's tolerance of newer codes, not part of the contract: drop it.
 */
export function dropCatchDefault(ctx: {
  zodSchema: z.core.$ZodTypes;
  jsonSchema: JsonSchema;
}): void {
  if (ctx.zodSchema._zod.def.type === 'catch') delete ctx.jsonSchema.default;
}

/** A JSON Schema without the document-level keys zod adds (`$schema`, `$id`). */
export function bare(schema: JsonSchema): JsonSchema {
  return Object.fromEntries(
    Object.entries(schema).filter(([key]) => key !== '$schema' && key !== '$id'),
  );
}

/** A request-side schema, inline: what a client may send (defaults and coercions applied later). */
export function input(schema: z.ZodType): JsonSchema {
  return bare(z.toJSONSchema(schema, { io: 'input', override: dropCatchDefault }));
}
