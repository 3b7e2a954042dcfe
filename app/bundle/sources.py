"""Logical sources of signatures: the file kinds that feed them, and how to see their lines."""

from __future__ import annotations

from dataclasses import dataclass

from app.report import FileKind


@dataclass(frozen=True, slots=True)
class ProductLog:
    """The log of another product of an MRA or Webex deployment (an endpoint, Jabber, Unified
    CM, IM and Presence, Meeting Server), uploaded as a plain log next to the Expressway bundles.

    `literals`: any one of them on a line shows that such a log was uploaded; each is taken from
    the line forms the tech notes quote for that log and is absent from Expressway logs.
    `hint`: what to upload when none is there.
    """

    source: str  # the logical source a signature names (match.source)
    name: str  # "Jabber log", as the coverage reason and the catalogue say it
    literals: tuple[str, ...]
    hint: str

    @property
    def absent(self) -> str:
        """How a coverage reason starts when no such log was uploaded (read back by the
        verdict, app.signatures.verdict, to group those skips)."""
        return f"no {self.name} in the upload"


PRODUCT_LOGS: tuple[ProductLog, ...] = (
    ProductLog(
        "endpoint_log",
        "TC/CE endpoint log",
        # all.log entries "<uptime> <module> ...": "15716.23 HttpClient ...", "83716.91 PROV I:
        # ...", "82850.02 CertificateVerification ERROR: ..." (doc 211304, whose tools section
        # turns on "log ctx HttpClient debug 9" and "log ctx PROV debug 9" for MRA provisioning);
        # the module name between spaces, as Jabber logs hold "HttpClientResult=" (doc 212081);
        # RoomOS/CE "main[<pid>]: SipPacket W: SIP Msg: ..." entries (doc 223293)
        (" HttpClient ", " PROV ", " CertificateVerification ", " SipPacket "),
        "upload the endpoint's all.log (from its Troubleshooting > Logs page) as a plain log",
    ),
    ProductLog(
        "jabber_log",
        "Jabber log",
        # "[csf.httpclient]" (doc 212081), "[csf.edge]" (doc 117811),
        # "[Single-Sign-On-Logger]" (doc 212794)
        ("[csf.", "[Single-Sign-On-Logger]"),
        "upload the jabber.log of the Jabber problem report (Help > Report a problem) as a "
        "plain log",
    ),
    ProductLog(
        "ucm_sdl_trace",
        "Unified CM SDL trace",
        # "|16:31:15.937 |AppInfo  |SIPStationD..." (doc 211304), "|AppInfo |SIPTcp ..." (213863)
        ("|AppInfo",),
        "upload the Cisco CallManager SDL trace files (RTMT > Collect Files > Cisco "
        "CallManager) as plain logs",
    ),
    ProductLog(
        "ucm_sso_log",
        "Unified CM SSO log",
        # "... cpi.sso.saml.sp.security.authentication.SAMLAuthenticator - ..." (doc 225746)
        ("cpi.sso.",),
        "run *set samltrace level debug* on Unified CM, reproduce the sign-in and upload the "
        "SSO (ssosp) log files as plain logs",
    ),
    ProductLog(
        "push_notification_log",
        "push notification service log",
        # "ccmpns.CCMPNServer (CCMPNServer.java:306) - ...",
        # "xmlframework.XCPConfigMgr - ..." (doc 222556)
        ("ccmpns.", "xmlframework.XCPConfigMgr"),
        "upload the Cisco Push Notification Service log (Unified CM) or the Cisco XCP Config "
        "Manager log (IM and Presence), collected at debug level, as plain logs",
    ),
    ProductLog(
        "imp_syslog",
        "IM and Presence syslog",
        # "%UC_ReplWatcher-1-DuplicateUserid: %[AppID=...][ClusterID=][NodeID=impPub]:"
        # (doc 217518); a Unified CM syslog has the same form
        ("%[AppID=",),
        "upload the IM and Presence syslog (RTMT > Collect Files > Cisco Syslog Agent) as a "
        "plain log",
    ),
    ProductLog(
        "cms_log",
        "Meeting Server log",
        # tab-separated "date\ttime\tlevel\tmessage" entries (doc 210800)
        ("\tInfo\t", "\tWarning\t"),
        "upload the Meeting Server event log (Web Admin, Logs > Event log) as a plain log",
    ),
)
"""The logs of other products that signatures read (match.source), with their presence literals."""

PRODUCT_LOG_BY_SOURCE: dict[str, ProductLog] = {log.source: log for log in PRODUCT_LOGS}

SOURCES: dict[str, frozenset[FileKind]] = {
    "loggingsnapshot": frozenset({FileKind.LOGGINGSNAPSHOT, FileKind.LOG}),
    "traffic_server": frozenset({FileKind.LOGGINGSNAPSHOT, FileKind.LOG}),
    "xconf": frozenset({FileKind.XCONF}),
    "xstat": frozenset({FileKind.XSTAT}),
    "pem": frozenset({FileKind.PEM}),
    "pcap": frozenset({FileKind.PCAP}),
    # another product's log is a plain upload, never an Expressway loggingsnapshot
    **{log.source: frozenset({FileKind.LOG}) for log in PRODUCT_LOGS},
}
"""Logical source name -> the kinds of file a signature over that source reads."""


PRESENCE: dict[str, tuple[str, ...]] = {
    "traffic_server": ("traffic_server[",),
    **{log.source: log.literals for log in PRODUCT_LOGS},
}
"""Logical source -> literals of which one is on every line of that source (checked by
coverage).

A source listed here can be absent from files of the right kind: Traffic Server lines only
appear when the matching modules logged something (usually at debug level) while the bundle was
collected; another product's log is there only when the engineer uploaded it.
"""

ABSENCE_HINTS: dict[str, str] = {
    "traffic_server": "set the MRA debug modules (network.http.trafficserver, "
    "developer.trafficserver etc.) to debug before collecting the diagnostic log",
    **{log.source: log.hint for log in PRODUCT_LOGS},
}
"""Logical source -> what to do when the upload holds no line of it."""

ALARM_EVENT_MARKERS: tuple[str, ...] = ('Event="Alarm ',)
"""An alarm signature can only look when the log holds alarm events, `Event="Alarm Raised"` or
`Event="Alarm Lowered"` (domain.md §2.4 c): one literal for both, so that the scan stops looking
at the first of either (a literal absent from a log costs about 1 s of CPU per GiB)."""

XSTAT_ALARM_MARKERS: tuple[str, ...] = ("*s Alarm", "<Alarm ", "<Alarm>", "<Alarms")
"""The xstatus alarm list (text `*s Alarm …` or XML `<Alarm …>`): the node's active alarms.
Inferred from the xstatus block shape (`*s SystemUnit: /`, domain.md "xstatus blocks"): no
public xstatus dump shows the alarm block itself."""

MARKERS: tuple[str, ...] = (
    *(literal for literals in PRESENCE.values() for literal in literals),
    *ALARM_EVENT_MARKERS,
)
"""Every literal whose presence the signature scan records per log file (engine.FileStats)."""

ALARM_HINT = (
    'neither an Event="Alarm Raised" / "Alarm Lowered" line in the log nor the xstatus alarm '
    "list: include the xstatus dump, or a log that covers the time the alarm was raised"
)
CERTIFICATE_HINT = (
    "certificate checks need a PEM (server_*.pem, ca_*.pem) or a packet capture of the TLS "
    "handshake: tick Take tcpdump while logging"
)

_SOURCE_WORDS: dict[str, str] = {
    "loggingsnapshot": "Expressway log",
    "traffic_server": "Expressway log (Traffic Server lines, MRA modules at debug level)",
    "xconf": "Expressway configuration dump (xconf)",
    "xstat": "Expressway status dump (xstat)",
    "pem": "certificates (PEM)",
    "pcap": "packet capture",
}


def source_words(source: str) -> str:
    """What a signature over `source` reads, in words: "Expressway log", "Jabber log", …"""
    log = PRODUCT_LOG_BY_SOURCE.get(source)
    if log is not None:
        return log.name
    return _SOURCE_WORDS.get(source, source)
