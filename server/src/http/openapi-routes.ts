/**
 * The table of every route the app mounts, for the OpenAPI document (openapi.ts builds the
 * document from it; a test checks the table against the app's real router). Each area's part
 * is in openapi/; this file puts them in the document's order.
 */
import { ACCOUNT_DOCS, CREDENTIAL_DOCS } from './openapi/account-docs.js';
import { AGENT_DOCS, EXPRESSION_DOCS, SETTINGS_DOCS } from './openapi/api-docs.js';
import { COURSE_DOCS, OPENAPI_DOCS, OPS_DOCS } from './openapi/ops-docs.js';
import type { RouteDoc } from './openapi/route-doc.js';

export type { RouteDoc } from './openapi/route-doc.js';

/** Every route `createApp` mounts. The test checks this against the app's real router stack. */
export const ROUTES: readonly RouteDoc[] = [
  ...EXPRESSION_DOCS,
  ...SETTINGS_DOCS,
  ...AGENT_DOCS,
  ...ACCOUNT_DOCS,
  ...CREDENTIAL_DOCS,
  ...OPENAPI_DOCS,
  ...COURSE_DOCS,
  ...OPS_DOCS,
];
