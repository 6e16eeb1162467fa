/**
 * Every failure a user can see carries a stable, machine-readable code.
 * Codes are part of the public contract: never rename one, only add.
 */
export interface SourceLocation {
  /** File name or `<input>` when parsed from a string. */
  file: string;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  column: number;
}

export interface M2mErrorOptions {
  stepId?: string | undefined;
  location?: SourceLocation | undefined;
  details?: Record<string, unknown> | undefined;
  cause?: unknown;
}

export class M2mError extends Error {
  override readonly name = 'M2mError';
  readonly code: string;
  readonly stepId: string | undefined;
  readonly location: SourceLocation | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: M2mErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.stepId = options.stepId;
    this.location = options.location;
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.stepId === undefined ? {} : { stepId: this.stepId }),
      ...(this.location === undefined ? {} : { location: this.location }),
      ...(this.details === undefined ? {} : { details: this.details }),
    };
  }
}

export function isM2mError(value: unknown): value is M2mError {
  return value instanceof M2mError;
}

export function formatLocation(location: SourceLocation | undefined): string {
  return location === undefined ? '' : `${location.file}:${location.line}:${location.column}`;
}
