"""Tell Expressway-C from Expressway-E (and VCS) by weighing what a bundle shows.

Expressway runs on the VCS platform and keeps its legacy names: xstatus `SystemUnit Product`
can read "TANDBERG VCS" on an Expressway, Cisco TMS identifies an Expressway as "TANDBERG VCS"
(Expressway admin guide), SIP `Server:` headers say `TANDBERG/<n> (X…)`. A label alone therefore
never decides. Each thing a file shows is a `Clue` of one weight:

fact (decides the role, confidence high when all facts agree)
    - a zone of the local system whose type is `TraversalServer` (local system = traversal
      server: Expressway-E / VCS Expressway) or `TraversalClient` (Expressway-C / VCS Control),
      in an xconf or xstatus dump, as `Zones Zone N Type: "TraversalServer"` or a
      `Zones Zone N TraversalClient …` subtree (VCS admin guide D14049: "TraversalServer: the
      local VCS is a traversal server for the new zone"; MRA guide: `xConfiguration Zones Zone
      <id> TraversalClient SIP Media ICEPassThrough Support` on the Expressway-C), text or XML;
    - the Traversal Server option key `116341T00-…` (LIC-EXP-E, "Expressway-E only", admin guide
      option-key table) in a dump;
    - xstatus `SystemUnit Software Configuration Expressway: True`, the Expressway (traversal)
      feature set of a VCS Expressway [INF: flag name from the xstatus SystemUnit description];
    - a product label naming the role: "Expressway-C", "Expressway-E", "VCS Control",
      "VCS Expressway".
hint (decides only without facts, confidence medium)
    - the log: a call leg through a local traversal server zone (`ZONETYPE_TRAVERSALSERVER`,
      `TYPE_ASSENTSERVER`: Expressway-E, as in the real Expressway-E log) or client zone
      (`ZONETYPE_TRAVERSALCLIENT`, `TYPE_ASSENTCLIENT`: Expressway-C); Traffic Server verifying
      a UC server's certificate (`Core server certificate verification failed`, `SNI (…) not in
      certificate`: only the Expressway-C proxies to Unified CM / IM&P / Unity, doc 218018);
      edge configuration provisioning asking a UC server (an `edgeconfigprovisioning` line
      naming `Server="('https', '<ucm>', 8443)"`: UDS towards Unified CM, doc 211304,
      Expressway-C; edge-config lines without a UC server are not counted, the Expressway-E
      relays edge-config requests too);
    - a dump: `EdgeConfigServer …` settings (the seed: "on the CLI of the Expressway-C …
      `xConfiguration EdgeConfigServer VerifyOriginServer`") or Unified CM server entries
      (`UnifiedCm…` paths) [INF: path names beyond those quoted].
label (never decides the role)
    - "TANDBERG VCS", "Video Communication Server", "VCS": the platform; "Cisco Expressway":
      an Expressway of unknown role; the Expressway Series option key `116341E00-…`.

Decision: a user's choice wins (confidence high). Otherwise the facts vote: one role → that role,
high; both roles → the majority with confidence medium, a tie leaves it unknown (low). Without
facts the hints vote the same way (one role → medium; both → unknown, low). Hints or facts for
the other role are listed as conflicting evidence. With no role, a VCS label gives "VCS" (low);
otherwise the product is None (low). When the role is known and a label said VCS, the evidence
says so: VCS Control behaves as Expressway-C, VCS Expressway as Expressway-E, for signatures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from app.bundle.identity.dumps import DumpEntry

C = "Expressway-C"
E = "Expressway-E"
VCS = "VCS"
FACT, HINT, LABEL, NOTE = "fact", "hint", "label", "note"
MAX_EVIDENCE = 16
"""Evidence entries kept per node (the strongest first)."""
MAX_LISTED = 5
"""Zone numbers or lines named in one evidence entry."""

_TRAVERSAL_KEY = "116341T00"
_SERIES_KEY = "116341E00"
_ZONE_TYPES = {"traversalserver": E, "traversalclient": C}
_ROLE_WORDS = {
    ("expressway", "e"): E,
    ("expressway", "edge"): E,
    ("expresswaye",): E,
    ("vcs", "expressway"): E,
    ("expressway", "c"): C,
    ("expressway", "core"): C,
    ("expresswayc",): C,
    ("vcs", "control"): C,
}
"""Words of a product label that name a role ("Cisco Expressway-E", "VCS Control", ...)."""


@dataclass(frozen=True, slots=True)
class Clue:
    """One thing a file showed about the product, and how much it weighs."""

    source: str  # the file's name as shown to people, or "user"
    says: str
    weight: str  # fact | hint | label | note
    role: str | None = None  # Expressway-C | Expressway-E | None
    platform: str | None = None  # "VCS" | "Expressway" | None (what a label says)

    def shown(self) -> dict[str, str]:
        return {"source": self.source, "says": self.says}


@dataclass(slots=True)
class Identity:
    """The product decided for one node, how sure, and why."""

    product: str | None
    confidence: str  # high | medium | low
    evidence: list[Clue] = field(default_factory=list)


# ---- labels ------------------------------------------------------------------------------


def label_clue(source: str, label: str, where: str) -> Clue:
    """What a product label says: a role only when it names one, else only the platform."""
    lower = " ".join(label.lower().split())
    words = lower.replace("-", " ").replace("_", " ").split()
    for pair in (*zip(words, words[1:], strict=False), *((word,) for word in words)):
        role = _ROLE_WORDS.get(pair)
        if role is not None:
            return Clue(source, f'{where} reads "{label}"', FACT, role=role)
    if "vcs" in words or "video communication server" in lower:
        return Clue(
            source,
            f'{where} reads "{label}": a legacy platform name that Expressway-C, Expressway-E '
            "and VCS all report, so it does not tell them apart",
            LABEL,
            platform=VCS,
        )
    if "expressway" in lower:
        return Clue(
            source, f'{where} reads "{label}": an Expressway, not which side', LABEL, "Expressway"
        )
    return Clue(source, f'{where} reads "{label}", a product logloupe does not know', LABEL)


# ---- dumps -------------------------------------------------------------------------------


@dataclass(slots=True)
class DumpReading:
    """What one xstat/xconf dump tells: product clues, version, hostname."""

    clues: list[Clue] = field(default_factory=list)
    version: tuple[str, str] | None = None  # (version, where it was read)
    hostname: str | None = None


def read_dump(source: str, entries: Iterable[DumpEntry]) -> DumpReading:
    """Clues, version and hostname of one dump's entries (each entry looked at once)."""
    reading = DumpReading()
    zones: dict[str, dict[str, None]] = {C: {}, E: {}}  # role → zone numbers, in order seen
    hints: dict[str, DumpEntry] = {}
    labelled: set[str] = set()
    for entry in entries:
        names = entry.names
        if not names:
            continue
        value = entry.value
        last = names[-1]
        if last in ("product", "producttype", "@product") and (
            last == "@product" or "systemunit" in names
        ):
            where = "Status product attribute" if last == "@product" else "SystemUnit Product"
            if value and where not in labelled:  # the first of each kind per dump
                labelled.add(where)
                reading.clues.append(label_clue(source, value, where))
        elif last in ("version", "@version") and value[:1] in ("X", "x") and value[1:2].isdigit():
            if reading.version is None and (last == "@version" or "software" in names):
                where = "Status version attribute" if last == "@version" else entry.shown
                reading.version = (value, where)
        elif names[-3:] == ("ip", "dns", "hostname") and value and reading.hostname is None:
            reading.hostname = value
        elif (
            names[-3:] == ("software", "configuration", "expressway")
            and value.lower() in ("true", "on")
            and "expressway" not in hints
        ):
            hints["expressway"] = entry
        if "zone" in names:
            role = _zone_role(names, value)
            if role is not None:
                number = _zone_number(entry.path)
                zones[role].setdefault(number)
        upper = value.upper()
        if upper.startswith(_TRAVERSAL_KEY) and "traversal key" not in hints:
            hints["traversal key"] = entry
        elif upper.startswith(_SERIES_KEY) and "series key" not in hints:
            hints["series key"] = entry
        elif names[0] == "edgeconfigserver" and "edge config" not in hints:
            hints["edge config"] = entry
        elif (
            any(name.startswith("unifiedcm") for name in names)
            and value
            and value.lower() not in ("0", "off", "false", "inactive")
            and "unified cm" not in hints
        ):
            hints["unified cm"] = entry
    reading.clues += _zone_clues(source, zones)
    reading.clues += _dump_clues(source, hints)
    return reading


def _zone_number(path: tuple[str, ...]) -> str:
    """The N of `Zone N` (text) or `<Zone item="N">` (XML) in a zone entry's path."""
    lower = [token.lower() for token in path]
    at = lower.index("zone") if "zone" in lower else len(path)
    following = path[at + 1 : at + 2]
    return following[0] if following and following[0].isdigit() else "?"


def _zone_role(names: tuple[str, ...], value: str) -> str | None:
    """The role a zone entry shows: its `Type` value, or a traversal subtree under the zone."""
    after = names[names.index("zone") + 1 :]
    if after == ("type",):
        return _ZONE_TYPES.get(value.strip().lower())
    return _ZONE_TYPES.get(after[0]) if after else None


def _zone_clues(source: str, zones: dict[str, dict[str, None]]) -> Iterator[Clue]:
    kinds = {E: "traversal server", C: "traversal client"}
    for role, seen in zones.items():
        numbers = list(seen)
        if numbers:
            listed = ", ".join(numbers[:MAX_LISTED]) + (" …" if len(numbers) > MAX_LISTED else "")
            plural = "s" if len(numbers) > 1 else ""
            yield Clue(
                source,
                f"zone{plural} {listed}: the local system is a {kinds[role]} ({role} side)",
                FACT,
                role=role,
            )


def _dump_clues(source: str, hints: dict[str, DumpEntry]) -> Iterator[Clue]:
    if "traversal key" in hints:
        shown = hints["traversal key"].value[:14] + "…"
        yield Clue(source, f"Traversal Server option key {shown} (Expressway-E only)", FACT, E)
    if "expressway" in hints:
        yield Clue(
            source,
            f"{hints['expressway'].shown}: the Expressway (traversal server) feature set",
            FACT,
            E,
        )
    if "edge config" in hints:
        yield Clue(
            source,
            f"{hints['edge config'].shown}: edge configuration server settings (Expressway-C)",
            HINT,
            C,
        )
    if "unified cm" in hints:
        yield Clue(
            source, f"{hints['unified cm'].shown}: Unified CM servers (Expressway-C)", HINT, C
        )
    if "series key" in hints:
        yield Clue(source, "Expressway Series option key", LABEL, platform="Expressway")


# ---- logs --------------------------------------------------------------------------------

_LOG_MARKERS: tuple[tuple[str, str, str], ...] = (
    ("ZONETYPE_TRAVERSALSERVER", E, "a call leg through a local traversal server zone"),
    ("TYPE_ASSENTSERVER", E, "media traversal as Assent server"),
    ("ZONETYPE_TRAVERSALCLIENT", C, "a call leg through a local traversal client zone"),
    ("TYPE_ASSENTCLIENT", C, "media traversal as Assent client"),
)
_EDGE_CONFIG = "edgeconfigprovisioning"
_UC_SERVER = "Server=\"('"
_TS_VERIFY = "Core server certificate verification failed"
_TS_SNI = "not in certificate"


class LogClues:
    """Counts the product hints of one log, line by line (see `feed`)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._lines: dict[str, list[int]] = {}
        self._counts: Counter[str] = Counter()
        self._markers = tuple(marker for marker, _, _ in _LOG_MARKERS)
        self._traffic_server = self._edge_config = True

    def look_for(self, text: str) -> None:
        """Before feeding the lines of `text`: `feed` then tests a line only for what `text`
        holds somewhere (what the whole text lacks, none of its lines holds; the head of a
        log is 14,000 lines, each tested for every marker before)."""
        self._markers = tuple(marker for marker, _, _ in _LOG_MARKERS if marker in text)
        self._traffic_server = "traffic_server" in text
        self._edge_config = _EDGE_CONFIG in text

    def feed(self, number: int, line: str) -> None:
        """Look at line `number` (1-based, already cut to a bounded length)."""
        for marker in self._markers:
            if marker in line:
                self._seen(marker, number)
        if (
            self._traffic_server
            and "traffic_server" in line
            and (_TS_VERIFY in line or ("SNI (" in line and _TS_SNI in line))
        ):
            self._seen(_TS_VERIFY, number)
        if self._edge_config and _EDGE_CONFIG in line and _UC_SERVER in line:
            self._seen(_EDGE_CONFIG, number)

    def _seen(self, marker: str, number: int) -> None:
        self._counts[marker] += 1
        lines = self._lines.setdefault(marker, [])
        if len(lines) < 3:
            lines.append(number)

    def clues(self) -> list[Clue]:
        found: list[Clue] = []
        described = [
            *_LOG_MARKERS,
            (_TS_VERIFY, C, "Traffic Server verifying a UC server's certificate"),
            (_EDGE_CONFIG, C, "edge configuration provisioning asking a UC server"),
        ]
        for marker, role, what in described:
            count = self._counts.get(marker, 0)
            if not count:
                continue
            lines = ", ".join(str(n) for n in self._lines[marker])
            more = " …" if count > len(self._lines[marker]) else ""
            plural = "s" if count > 1 else ""
            found.append(
                Clue(
                    self.source,
                    f"{what} ({marker}) on {count} line{plural}: line{plural} {lines}{more}",
                    HINT,
                    role,
                )
            )
        return found


# ---- decision ----------------------------------------------------------------------------


def decide(clues: list[Clue], chosen: str | None = None) -> Identity:
    """Weigh the clues (module doc); `chosen` is the user's choice, None for auto."""
    facts = [c for c in clues if c.weight == FACT and c.role]
    hints = [c for c in clues if c.weight == HINT and c.role]
    labels = [c for c in clues if c.weight == LABEL]
    notes: list[Clue] = []
    if chosen is not None:
        user = Clue("user", f"product chosen as {chosen} at upload", FACT, role=chosen)
        detected = decide(clues).product
        if detected is not None and detected != chosen:
            notes.append(Clue("logloupe", f"the bundle's evidence pointed to {detected}", NOTE))
        return Identity(chosen, "high", _ordered([user, *facts, *hints, *labels, *notes]))
    role, confidence, conflict = _vote(facts, "high")
    if role is None and not facts:
        role, confidence, conflict = _vote(hints, "medium")
    if conflict:
        notes.append(Clue("logloupe", conflict, NOTE))
    against = [c for c in (*facts, *hints) if role is not None and c.role != role]
    if against and not conflict:
        notes.append(
            Clue(
                "logloupe",
                f"conflicting evidence: {len(against)} clue(s) point to {against[0].role}, "
                f"outweighed by the {'facts' if facts else 'hints'} for {role}",
                NOTE,
            )
        )
    product = role
    if role is not None:
        if any(label.platform == VCS for label in labels):
            twin = "VCS Control" if role == C else "VCS Expressway"
            notes.append(
                Clue(
                    "logloupe",
                    f"reported as {role}: the platform label says VCS, and {twin} behaves as "
                    f"{role} for the signatures",
                    NOTE,
                )
            )
    elif any(label.platform == VCS for label in labels):
        product, confidence = VCS, "low"
    else:
        confidence = "low"
    return Identity(product, confidence, _ordered([*facts, *hints, *labels, *notes]))


def _vote(clues: list[Clue], confidence: str) -> tuple[str | None, str, str | None]:
    """(role, confidence, conflict note) from clues of one weight."""
    votes = Counter(c.role for c in clues if c.role)
    if not votes:
        return None, "low", None
    if len(votes) == 1:
        return next(iter(votes)), confidence, None
    (first, first_n), (second, second_n) = votes.most_common(2)
    kind = "facts" if confidence == "high" else "hints"
    if first_n == second_n:
        note = f"conflicting {kind}: {first_n} for {first}, {second_n} for {second}; side unknown"
        return None, "low", note
    note = f"conflicting {kind}: {first_n} for {first}, {second_n} for {second}; the majority wins"
    return first, "medium", note


def _ordered(clues: list[Clue]) -> list[Clue]:
    """The user's choice, facts, then what logloupe concluded from them, hints and labels."""
    rank = {FACT: 0, NOTE: 1, HINT: 2, LABEL: 3}
    ordered = sorted(clues, key=lambda c: 0 if c.source == "user" else 1 + rank[c.weight])
    return ordered[:MAX_EVIDENCE]
