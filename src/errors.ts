// The one registry of coded errors. Each code is stable (operators grep for it), maps to one HTTP
// status and one Beckn error code (BECKN-005), and has a default message. docs/error-codes.md lists
// them all; a test keeps the two in step. Expected outcomes (an infeasible plan) are values, not errors.

export const ERRORS = {
  // Signature and identity (BECKN-006 "Step 2": failures get 401 and a NACK). BECKN-005 has no auth
  // codes, so these use its generic invalid-request code.
  FLX_SIG_MISSING: { http: 401, beckn: '30000', message: 'the request has no Authorization header' },
  FLX_SIG_MALFORMED: {
    http: 401,
    beckn: '30000',
    message: 'the Authorization header is not a valid Beckn signature header',
  },
  FLX_SIG_ALGORITHM: { http: 401, beckn: '30000', message: 'the signature algorithm is not ed25519' },
  FLX_SIG_EXPIRED: { http: 401, beckn: '30000', message: 'the signature has expired' },
  FLX_SIG_NOT_YET_VALID: { http: 401, beckn: '30000', message: 'the signature was created in the future' },
  FLX_SIG_UNKNOWN_KEY: { http: 401, beckn: '30000', message: 'no registered key matches the keyId' },
  FLX_SIG_KEY_REVOKED: {
    http: 401,
    beckn: '30000',
    message: 'the signing key is not valid now (revoked, expired or not yet valid)',
  },
  FLX_SIG_WRONG_SUBSCRIBER: {
    http: 401,
    beckn: '30000',
    message: 'the signer is not the subscriber named in the context',
  },
  FLX_SIG_INVALID: { http: 401, beckn: '30000', message: 'the signature does not verify against the body' },
  // BECKN-006 Step 4: a bad gateway signature gets 401 with Proxy-Authenticate.
  FLX_SIG_GATEWAY: { http: 401, beckn: '30000', message: 'the X-Gateway-Authorization signature is not valid' },
  // Malformed requests (BECKN-005 30000-series).
  FLX_REQ_INVALID_JSON: { http: 400, beckn: '30000', message: 'the body is not valid JSON' },
  FLX_BUSY: {
    http: 503,
    beckn: '40000',
    message:
      'too busy to answer within the ttl now (callbacks owed, the planner queue, or an answer that would be late)',
  },
  FLX_REQ_MEDIA_TYPE: { http: 415, beckn: '30000', message: 'the body is missing or not application/json' },
  FLX_REQ_TOO_LARGE: { http: 413, beckn: '30000', message: 'the body is larger than the endpoint accepts' },
  FLX_RATE_LIMITED: { http: 429, beckn: '40000', message: 'this subscriber sent more requests than its rate limit' },
  FLX_REQ_SCHEMA: { http: 400, beckn: '30000', message: 'the message does not match its schema' },
  FLX_REQ_CONTEXT: { http: 400, beckn: '30000', message: 'the context is not acceptable' },
  FLX_REQ_EXPIRED: { http: 400, beckn: '30000', message: 'the message arrived after its ttl' },
  FLX_REQ_DUPLICATE: { http: 409, beckn: '30000', message: 'the message_id was already used for a different message' },
  // BECKN-005: 30001 "Provider not found", 30004 "Item not found".
  FLX_PROVIDER_NOT_FOUND: { http: 404, beckn: '30001', message: 'no such provider at this BPP' },
  FLX_ITEM_NOT_FOUND: { http: 404, beckn: '30004', message: 'no such item (offer)' },
  FLX_ORDER_NOT_FOUND: { http: 404, beckn: '30010', message: 'no such order' },
  FLX_UPDATE_TARGET: { http: 400, beckn: '30012', message: 'the update_target is not one this provider can update' },
  FLX_RATING_ENTITY_NOT_FOUND: { http: 404, beckn: '30014', message: 'the entity to rate was not found' },
  FLX_RATING_VALUE: { http: 400, beckn: '30015', message: 'the rating value is not valid' },
  // Business and policy (40000- and 50000-series).
  FLX_ACTION_NOT_APPLICABLE: { http: 400, beckn: '40001', message: 'this participant does not implement that action' },
  FLX_QUANTITY_UNAVAILABLE: { http: 409, beckn: '40002', message: 'the quantity asked for is more than is offered' },
  FLX_QUOTE_EXPIRED: { http: 409, beckn: '40003', message: 'the quote is no longer available' },
  FLX_ORDER_STATE: { http: 409, beckn: '40000', message: 'the order is not in a state that allows this action' },
  FLX_CANCEL_NOT_POSSIBLE: { http: 409, beckn: '50001', message: 'the order cannot be cancelled' },
  FLX_UPDATE_NOT_POSSIBLE: { http: 409, beckn: '50002', message: 'the order cannot be updated' },
  FLX_RATING_CATEGORY: { http: 400, beckn: '50003', message: 'that rating category is not supported' },
  // Peers and internals.
  FLX_PEER_UNREACHABLE: { http: 502, beckn: '40000', message: 'a peer did not answer' },
  FLX_PEER_NACK: { http: 502, beckn: '40000', message: 'a peer refused the request' },
  FLX_PEER_ACK_SIGNATURE: { http: 502, beckn: '40000', message: "a peer's response is not validly signed by it" },
  FLX_NO_DEAL: { http: 409, beckn: '40000', message: 'no flexibility was bought' },
  FLX_INTERNAL: { http: 500, beckn: '40000', message: 'internal error' },
  // The provider↔agent link (flexlon-link/1, src/agents/link-protocol.ts); operator-internal, not Beckn.
  FLX_LINK_INVALID: { http: 400, beckn: '30000', message: 'a provider–agent link body does not match flexlon-link/1' },
  FLX_LINK_VERSION: {
    http: 400,
    beckn: '30000',
    message: 'a provider–agent link body speaks another protocol version',
  },
  // Durable state: the store cannot be reached (or stays locked), or a write contradicts what it holds.
  FLX_STORE_UNAVAILABLE: { http: 503, beckn: '40000', message: 'the state store is unavailable' },
  FLX_STORE_CONFLICT: {
    http: 409,
    beckn: '40000',
    message: 'the write contradicts what the state store already holds',
  },
  // Operator-facing (CLI and config); never sent on the wire.
  FLX_CONFIG_INVALID: { http: 400, beckn: '30000', message: 'the configuration is invalid' },
  FLX_CLI_USAGE: { http: 400, beckn: '30000', message: 'the command line is invalid' },
  FLX_DATA_INVALID: { http: 400, beckn: '30000', message: 'an input file is invalid' },
  // Grid signals and grid events (docs/signals.md).
  FLX_SIGNAL_UNAVAILABLE: { http: 404, beckn: '40000', message: 'no grid signal data for that region or period' },
  FLX_UPSTREAM_UNREACHABLE: { http: 503, beckn: '40000', message: 'a grid-data API could not be reached' },
  FLX_UPSTREAM_ERROR: {
    http: 502,
    beckn: '40000',
    message: 'a grid-data API answered with an error or an unexpected body',
  },
  FLX_UPSTREAM_RATE_LIMITED: {
    http: 429,
    beckn: '40000',
    message: 'a grid-data API kept refusing with 429 Too Many Requests',
  },
  FLX_EVENT_INVALID: { http: 400, beckn: '30000', message: 'the grid event or program does not match its schema' },
  FLX_EVENT_UNAUTHORIZED: { http: 401, beckn: '30000', message: 'the grid-event request has no valid bearer token' },
  FLX_EVENT_NOT_FOUND: { http: 404, beckn: '30000', message: 'no such grid event or program' },
  // The operator dashboard (src/web, docs/dashboard.md).
  FLX_OPERATOR_UNAUTHORIZED: { http: 401, beckn: '30000', message: 'the dashboard action carries no operator token' },
  FLX_OPERATOR_FORBIDDEN: {
    http: 403,
    beckn: '30000',
    message: 'the operator token is wrong, or this dashboard is read-only',
  },
  FLX_DASHBOARD_NOT_FOUND: { http: 404, beckn: '30000', message: 'no such dashboard file or record' },
  // Planning files (docs/planning-problem.md).
  FLX_PROBLEM_INVALID: { http: 400, beckn: '30000', message: 'the planning problem does not match its format' },
  FLX_SCHEDULE_INVALID: { http: 400, beckn: '30000', message: 'the schedule does not match its format' },
  FLX_PLAN_CHECK_FAILED: { http: 422, beckn: '40000', message: 'the schedule breaks a constraint of its problem' },
  FLX_PLAN_INFEASIBLE: { http: 409, beckn: '40000', message: 'a hard constraint of the fleet cannot hold' },
  // Workload schedulers (Slurm, Kubernetes) beside a Compute-Flex agent.
  FLX_SCHEDULER_UNAVAILABLE: { http: 503, beckn: '40000', message: 'the workload scheduler did not answer' },
  FLX_SCHEDULER_COMMAND: { http: 502, beckn: '40000', message: 'the workload scheduler refused a command' },
  FLX_JOB_METADATA: { http: 400, beckn: '30000', message: "a job's FlexLon metadata is invalid" },
  // GPU power meters (nvidia-smi, DCGM exporter) at a real site (docs/meters.md).
  FLX_METER_UNAVAILABLE: { http: 503, beckn: '40000', message: 'a GPU power meter could not be read' },
  FLX_METER_INVALID: { http: 502, beckn: '40000', message: 'a GPU power meter printed something unexpected' },
} as const satisfies Record<string, { http: number; beckn: string; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class FlexError extends Error {
  readonly code: ErrorCode;
  /** JSON path or config field at fault, when there is one. */
  readonly path: string | undefined;

  constructor(code: ErrorCode, detail?: string, options: { path?: string; cause?: unknown } = {}) {
    super(detail ?? ERRORS[code].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FlexError';
    this.code = code;
    this.path = options.path;
  }

  get http(): number {
    return ERRORS[this.code].http;
  }

  get becknCode(): string {
    return ERRORS[this.code].beckn;
  }
}

/** Any thrown value as a FlexError: unknown faults become FLX_INTERNAL with the original as cause. */
export const asFlexError = (e: unknown): FlexError =>
  e instanceof FlexError ? e : new FlexError('FLX_INTERNAL', e instanceof Error ? e.message : String(e), { cause: e });
