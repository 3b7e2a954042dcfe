"""The signature catalogue: what the library looks for, as JSON (api/v1) and as HTML pages.

Both forms filter the same way (product, family, the log a signature reads, severity, status,
free text or bug ID; an unknown product, family or source matches nothing) and
describe a signature with the same object (serialize.signature_detail); in JSON its texts stay
Jinja templates, on the page they are shown rendered with the facts of the signature's first
positive example.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from app import serialize
from app.bundle.sources import PRODUCT_LOG_BY_SOURCE, PRODUCT_LOGS, source_words
from app.schemas import Problem, Severity, SignatureDetail, SignatureOut, SignatureStatus
from app.signatures import Library, Signature
from app.signatures.model import STATUSES
from app.signatures.preview import example_finding
from app.web.deps import LibraryDep
from app.web.templating import SEVERITIES, templates

router = APIRouter()

SAFE_SCHEMES = ("https://", "http://")


@dataclass(frozen=True, slots=True)
class Filters:
    """What the catalogue is narrowed to; None (or empty) means any."""

    product: str | None = None
    family: str | None = None
    severity: str | None = None
    status: str | None = None
    q: str | None = None
    source: str | None = None  # the logical source it reads: loggingsnapshot, jabber_log, …

    @property
    def active(self) -> bool:
        return any((self.product, self.family, self.severity, self.status, self.q, self.source))


def _haystack(signature: Signature) -> str:
    text = signature.text
    parts = (
        signature.id,
        signature.title,
        *signature.bug_ids,
        *signature.references,
        text.description,
        text.condition,
        text.further_info,
        text.action,
    )
    return "\n".join(parts).casefold()


def matches(signature: Signature, filters: Filters) -> bool:
    """Whether the signature passes every filter; text search is case-insensitive."""
    if filters.product and signature.product.casefold() != filters.product.casefold():
        return False
    if filters.family and signature.family != filters.family.casefold():
        return False
    if filters.source and signature.source != filters.source.casefold():
        return False
    if filters.severity and signature.severity != filters.severity:
        return False
    if filters.status and signature.status != filters.status:
        return False
    return not filters.q or filters.q.strip().casefold() in _haystack(signature)


def select_signatures(library: Library, filters: Filters) -> list[Signature]:
    """The library's signatures that pass `filters`, in library order."""
    return [signature for signature in library.signatures if matches(signature, filters)]


def products_of(library: Library) -> list[str]:
    return sorted({signature.product for signature in library.signatures})


def families_of(library: Library) -> list[tuple[str, int]]:
    """Each family of the library with its number of signatures, by name."""
    counts: dict[str, int] = {}
    for signature in library.signatures:
        counts[signature.family] = counts.get(signature.family, 0) + 1
    return sorted(counts.items())


def sources_of(library: Library) -> list[tuple[str, str, int]]:
    """(source, the log it is in words, number of signatures) of each source the library
    reads: the Expressway's own first, then the other products' logs, by name."""
    counts: dict[str, int] = {}
    for signature in library.signatures:
        counts[signature.source] = counts.get(signature.source, 0) + 1
    return sorted(
        ((source, source_words(source), n) for source, n in counts.items()),
        key=lambda row: (row[0] in PRODUCT_LOG_BY_SOURCE, row[1].casefold()),
    )


def reference_links(references: tuple[str, ...] | list[str]) -> list[tuple[str, str | None]]:
    """(text, href) per reference: only http(s) URLs become links."""
    return [(ref, ref if ref.lower().startswith(SAFE_SCHEMES) else None) for ref in references]


# --- JSON ---------------------------------------------------------------------------------


@router.get(
    "/api/v1/signatures",
    response_model=list[SignatureOut],
    summary="The signature library, optionally filtered",
)
def list_signatures(
    library: LibraryDep,
    product: Annotated[str | None, Query(description="e.g. expressway")] = None,
    family: Annotated[
        str | None, Query(description="e.g. tls, mra, sip, cluster, alarm", max_length=40)
    ] = None,
    severity: Annotated[Severity | None, Query()] = None,
    status: Annotated[SignatureStatus | None, Query()] = None,
    q: Annotated[str | None, Query(description="text or bug ID", max_length=200)] = None,
    source: Annotated[
        str | None,
        Query(description="the log it reads: loggingsnapshot, xconf, jabber_log, …", max_length=40),
    ] = None,
) -> list[SignatureOut]:
    filters = Filters(
        product=product, family=family, severity=severity, status=status, q=q, source=source
    )
    return [serialize.signature_out(s) for s in select_signatures(library, filters)]


@router.get(
    "/api/v1/signatures/{signature_id}",
    response_model=SignatureDetail,
    responses={404: {"model": Problem}},
    summary="One signature: texts (templates), match condition, references, examples, source",
)
def get_signature(signature_id: str, library: LibraryDep) -> SignatureDetail:
    return serialize.signature_detail(library.get(signature_id), library.path)


# --- HTML ---------------------------------------------------------------------------------


def _choice(value: str | None, allowed: tuple[str, ...] | list[str]) -> str | None:
    """A form value kept only when it is one of the offered choices ("" means any)."""
    return value if value in allowed else None


def _named(value: str | None, names: list[str]) -> str | None:
    """A product, family or source as the JSON list reads it: any case, "" for any; one the
    library does not have stays, so that it matches nothing (as in the JSON list)."""
    text = (value or "").strip()
    if not text:
        return None
    return next((name for name in names if name.casefold() == text.casefold()), text)


@router.get("/signatures", include_in_schema=False)
def catalogue_page(
    request: Request,
    library: LibraryDep,
    product: str | None = None,
    family: str | None = None,
    severity: str | None = None,
    status: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    source: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    products = products_of(library)
    families = families_of(library)
    sources = sources_of(library)
    filters = Filters(
        product=_named(product, products),
        family=_named(family, [name for name, _ in families]),
        severity=_choice(severity, SEVERITIES),
        status=_choice(status, STATUSES),
        q=(q or "").strip() or None,
        source=_named(source, [name for name, _, _ in sources]),
    )
    context: dict[str, Any] = {
        "signatures": select_signatures(library, filters),
        "total": len(library.signatures),
        "filters": filters,
        "products": products,
        "families": families,
        "sources": sources,
        "statuses": STATUSES,
        "ruleset_version": library.version,
        "product_logs": {log.source: log.name for log in PRODUCT_LOGS},
    }
    return templates.TemplateResponse(request, "signatures.html", context)


@router.get("/signatures/{signature_id}", include_in_schema=False)
def signature_page(signature_id: str, request: Request, library: LibraryDep) -> Response:
    signature = library.get(signature_id)
    detail = serialize.signature_detail(signature, library.path)
    context: dict[str, Any] = {
        "signature": detail,
        "preview": example_finding(signature),
        "references": reference_links(detail.references),
        "api_url": f"/api/v1/signatures/{signature_id}",
    }
    return templates.TemplateResponse(request, "signature.html", context)
