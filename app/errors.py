"""The exception tree of logloupe and the HTTP status each maps to.

Our exception hierarchy:

* LoupeError
  + UploadRejected            -> 4xx, nothing is stored
    - UploadEmpty             -> 400
    - UploadTooLarge          -> 413
    - UnsupportedType         -> 415
    - UploadInvalid           -> 422
  + BundleError               -> the analysis fails with this reason
    - UnsafeArchive           (links, devices, paths leaving the work dir)
    - CorruptArchive          (truncated or unreadable archive)
    - LimitExceeded           (total bytes, member count, ratio, depth)
  + SignatureError            -> start-up refuses the library (file + field named)
  + NotFound                  -> 404
  + ServiceUnavailable        -> 503 (database or broker unreachable)
"""

from __future__ import annotations


class LoupeError(Exception):
    """Base of every error logloupe raises on purpose; `str(err)` is for people."""

    status_code = 500


class UploadRejected(LoupeError):
    """An upload that is refused before anything is stored."""

    status_code = 400


class UploadEmpty(UploadRejected):
    status_code = 400


class UploadTooLarge(UploadRejected):
    status_code = 413


class UnsupportedType(UploadRejected):
    status_code = 415


class UploadInvalid(UploadRejected):
    status_code = 422


class BundleError(LoupeError):
    """A bundle that cannot be analysed; the message is the analysis' failure reason."""

    status_code = 422


class UnsafeArchive(BundleError):
    pass


class CorruptArchive(BundleError):
    pass


class LimitExceeded(BundleError):
    pass


class SignatureError(LoupeError):
    """An invalid signature file; the message names the file and the field."""

    def __init__(self, file: str, field: str, problem: str) -> None:
        self.file = file
        self.field = field
        self.problem = problem
        super().__init__(f"{file}: field '{field}': {problem}")


class NotFound(LoupeError):
    status_code = 404


class ServiceUnavailable(LoupeError):
    status_code = 503
