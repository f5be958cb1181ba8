/**
 * Errors in the AWS REST-JSON shape: the status code, an `x-amzn-ErrorType` header and
 * `{"message"}` — what the AWS SDK reads to raise its typed exceptions.
 */
export type AwsErrorType =
  | "InvalidRequestException"
  | "ResourceNotFoundException"
  | "ResourceAlreadyExistsException"
  | "ConflictException"
  | "VersionConflictException"
  | "InvalidStateTransitionException"
  | "ValidationException"
  | "LimitExceededException"
  | "ServiceQuotaExceededException"
  | "InternalFailureException"
  | "InvalidQueryException"
  | "MethodNotAllowedException"
  | "UnsupportedDocumentEncodingException"
  | "RequestEntityTooLargeException";

const STATUS: Record<AwsErrorType, number> = {
  InvalidRequestException: 400,
  ValidationException: 400,
  InvalidQueryException: 400,
  ResourceNotFoundException: 404,
  MethodNotAllowedException: 405,
  ResourceAlreadyExistsException: 409,
  ConflictException: 409,
  VersionConflictException: 409,
  InvalidStateTransitionException: 409,
  LimitExceededException: 410,
  RequestEntityTooLargeException: 413,
  UnsupportedDocumentEncodingException: 415,
  ServiceQuotaExceededException: 402,
  InternalFailureException: 500,
};

export class AwsError extends Error {
  constructor(
    readonly type: AwsErrorType,
    message: string,
  ) {
    super(message);
  }

  get status(): number {
    return STATUS[this.type];
  }
}

export const invalid = (message: string) => new AwsError("InvalidRequestException", message);
export const notFound = (message: string) => new AwsError("ResourceNotFoundException", message);
