// Synchronous responses (transaction.yaml `responses.default`): ACK obliges the receiver to send the
// callback; NACK says it will not. This is the one place that turns an error into a NACK.
import { asFlexError, type FlexError } from '../errors.ts';

export interface AckBody {
  message: { ack: { status: 'ACK' | 'NACK' } };
  error?: { code: string; paths?: string; message: string };
}

export const ACK: AckBody = { message: { ack: { status: 'ACK' } } };

export interface Nack {
  readonly http: number;
  readonly body: AckBody;
  readonly error: FlexError;
}

/** NACK body and HTTP status for any thrown value; the FlexLon code leads the message so operators can grep it. */
export const toNack = (e: unknown): Nack => {
  const err = asFlexError(e);
  const message = err.code === 'FLX_INTERNAL' ? `${err.code}: internal error` : `${err.code}: ${err.message}`;
  return {
    http: err.http,
    error: err,
    body: {
      message: { ack: { status: 'NACK' } },
      error: { code: err.becknCode, ...(err.path ? { paths: err.path } : {}), message },
    },
  };
};
