import { TortieError } from '../../common/errors.js';

/** A user-facing CLI failure: printed to stderr without a stack trace, exit status 1. */
export class CtlError extends TortieError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('ctl', message, options);
    this.name = 'CtlError';
  }
}
