/**
 * The service's one error type. Domain code (registry, catalog, jobs, shadows) fails with a
 * `ServiceError` carrying a code from a closed union; the edges translate it exactly once:
 * `httpError` for the control plane (status + `x-amzn-ErrorType`, what the AWS SDKs read) and
 * `deviceErrorCode` for the Jobs device API's `…/rejected` payloads. Nothing else decides a status.
 */
import type { RejectedErrorCode } from "../protocol/messages.ts";

export type ServiceErrorCode =
  | "InvalidRequest"
  | "Validation"
  | "ResourceNotFound"
  | "ResourceAlreadyExists"
  | "Conflict"
  | "VersionConflict"
  | "InvalidStateTransition"
  | "TerminalStateReached"
  | "LimitExceeded"
  | "Throttling"
  | "InvalidQuery"
  | "IndexNotReady"
  | "Unauthorized"
  | "RequestEntityTooLarge"
  | "UnsupportedDocumentEncoding"
  | "MethodNotAllowed"
  | "NotImplemented"
  | "InternalFailure"
  | "CertificateState"
  | "CertificateValidation"
  | "DeleteConflict"
  | "MalformedPolicy"
  | "VersionsLimitExceeded";

export class ServiceError extends Error {
  constructor(
    readonly code: ServiceErrorCode,
    message: string,
    /** Members of the error body besides `message` (iot-jobs-data's executionState on a refused update). */
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
  }
}

export const fail = (code: ServiceErrorCode, message: string): never => {
  throw new ServiceError(code, message);
};

/** HTTP status and the `x-amzn-ErrorType` AWS uses for each code on the control plane. */
const HTTP: Record<ServiceErrorCode, { status: number; type: string }> = {
  InvalidRequest: { status: 400, type: "InvalidRequestException" },
  Validation: { status: 400, type: "ValidationException" },
  ResourceNotFound: { status: 404, type: "ResourceNotFoundException" },
  ResourceAlreadyExists: { status: 409, type: "ResourceAlreadyExistsException" },
  Conflict: { status: 409, type: "ConflictException" },
  VersionConflict: { status: 409, type: "VersionConflictException" },
  InvalidStateTransition: { status: 409, type: "InvalidStateTransitionException" },
  TerminalStateReached: { status: 410, type: "TerminalStateException" },
  LimitExceeded: { status: 410, type: "LimitExceededException" },
  Throttling: { status: 429, type: "ThrottlingException" },
  InvalidQuery: { status: 400, type: "InvalidQueryException" },
  IndexNotReady: { status: 400, type: "IndexNotReadyException" },
  Unauthorized: { status: 401, type: "UnauthorizedException" },
  RequestEntityTooLarge: { status: 413, type: "RequestEntityTooLargeException" },
  UnsupportedDocumentEncoding: { status: 415, type: "UnsupportedDocumentEncodingException" },
  MethodNotAllowed: { status: 405, type: "MethodNotAllowedException" },
  NotImplemented: { status: 501, type: "NotImplementedException" },
  InternalFailure: { status: 500, type: "InternalFailureException" },
  CertificateState: { status: 406, type: "CertificateStateException" },
  CertificateValidation: { status: 400, type: "CertificateValidationException" },
  DeleteConflict: { status: 409, type: "DeleteConflictException" },
  MalformedPolicy: { status: 400, type: "MalformedPolicyException" },
  VersionsLimitExceeded: { status: 409, type: "VersionsLimitExceededException" },
};

/** Every code of the union (for tests that go over all of them). */
export const SERVICE_ERROR_CODES = Object.keys(HTTP) as readonly ServiceErrorCode[];

export function httpError(error: ServiceError): {
  status: number;
  type: string;
  message: string;
  details?: Readonly<Record<string, unknown>>;
} {
  const mapped = HTTP[error.code];
  return { status: mapped.status, type: mapped.type, message: error.message, details: error.details };
}

/** The Jobs device API's rejected codes (MQTT and iot-jobs-data), from the AWS Jobs reference. */
export type DeviceErrorCode = RejectedErrorCode;

export function deviceErrorCode(error: ServiceError): DeviceErrorCode {
  switch (error.code) {
    case "InvalidStateTransition":
      return "InvalidStateTransition";
    case "ResourceNotFound":
      return "ResourceNotFound";
    case "VersionConflict":
      return "VersionMismatch";
    case "TerminalStateReached":
      return "TerminalStateReached";
    case "Throttling":
    case "LimitExceeded":
      return "RequestThrottled";
    case "InternalFailure":
    case "NotImplemented":
      return "InternalError";
    default:
      return "InvalidRequest";
  }
}
