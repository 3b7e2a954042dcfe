"""The exception tree of logloupe and the HTTP status each maps to.

Our exception hierarchy:

* LoupeError
  + UploadRejected            -> 4xx, nothing is stored
    - UploadEmpty             -> 400
    - UploadTooLarge          -> 413
    - UnsupportedType         -> 415
    - UploadInvalid           -> 422
    - UploadMalformed         -> 400 (e.g. a multipart boundary no client sends)
  + RequestTimeout            -> 408 (a request body that stalls or takes too long)
  + TooBusy                   -> 503 + Retry-After (too many uploads at once)
  + CrossSiteRefused          -> 403 (a cross-site request or a missing CSRF token)
  + BundleError               -> the analysis fails with this reason
    - UnsafeArchive           (links, devices, paths leaving the work dir)
    - CorruptArchive          (truncated or unreadable archive)
    - LimitExceeded           (total bytes, member count, ratio, depth)
  + SignatureError            -> start-up refuses the library (file + field named)
  + NotFound                  -> 404
  + RangeNotSatisfiable       -> 416 + Content-Range (a download's Range past the file's end)
  + ServiceUnavailable        -> 503 (database or broker unreachable)
"""

from __future__ import annotations


class LoupeError(Exception):
    """Base of every error logloupe raises on purpose; `str(err)` is for people."""

    status_code = 500

    @property
    def headers(self) -> dict[str, str]:
        """Extra response headers for this error (e.g. Retry-After)."""
        return {}


class UploadRejected(LoupeError):
    """An upload that is refused before anything is stored."""

    status_code = 400

    @property
    def headers(self) -> dict[str, str]:
        # the client may still be sending the body: close rather than read it to the end
        return {"Connection": "close"}


class UploadEmpty(UploadRejected):
    status_code = 400


class UploadTooLarge(UploadRejected):
    status_code = 413


class UnsupportedType(UploadRejected):
    status_code = 415


class UploadInvalid(UploadRejected):
    status_code = 422


class UploadMalformed(UploadRejected):
    status_code = 400


class RequestTimeout(LoupeError):
    """The request body stalled or took too long; whatever arrived has been discarded."""

    status_code = 408

    @property
    def headers(self) -> dict[str, str]:
        return {"Connection": "close"}


class TooBusy(LoupeError):
    """The server refuses new work for now; the client may try again after `retry_after` s."""

    status_code = 503

    def __init__(self, message: str, retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after), "Connection": "close"}


class CrossSiteRefused(LoupeError):
    """A state-changing request from another site, or a browser form without its CSRF token."""

    status_code = 403


class BundleError(LoupeError):
    """A bundle that cannot be analysed; the message is the analysis' failure reason."""

    status_code = 422


class UnsafeArchive(BundleError):
    pass


class CorruptArchive(BundleError):
    pass


class StoredFileDamaged(BundleError):
    """A file of the analysis' work dir that can no longer be read back (a compressed store
    cut short or corrupted on disk): the page or API says so instead of failing."""


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


class RangeNotSatisfiable(LoupeError):
    """A download's Range names no byte of the file; `size` is the file's length."""

    status_code = 416

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Range": f"bytes */{self.size}"}


class ServiceUnavailable(LoupeError):
    status_code = 503
