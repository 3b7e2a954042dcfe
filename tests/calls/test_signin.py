"""MRA sign-in extraction, grouping and ladder, on the line forms public Cisco documents show
(see tests/calls/signinlog.py for the documents) and on hostile variants of them."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest

from app.calls import signin_flow
from app.calls.render import to_svg, to_text
from app.calls.signin import MAX_BLOCK_KEEP, SigninCollector, combine, redact_url
from app.calls.signin_flow import build, decode_segment, lay_out
from app.calls.signin_model import HttpMessage, SigninResult, message_to_json
from app.report import FileKind
from tests.calls.signinlog import START, auth_failed, ts_request, ts_response, uds_401
from tests.conftest import SHARED

EXPE_PRODUCTS = {"expe1": "Expressway-E", "expc1": "Expressway-C"}
TRACKING = "f0000000-86f6-4030-8259-0b768c07723e"
CLIENT = "198.51.100.20"


def feed(collector: SigninCollector, name: str, text: str, lines_per_block: int = 0) -> None:
    """Feed `text` as the engine does: line-aligned blocks (`lines_per_block` lines each)."""
    reader = collector.observer(name, FileKind.LOG)
    assert reader is not None
    data = text.encode("utf-8", errors="surrogateescape")
    lines = data.splitlines(keepends=True)
    size = lines_per_block or len(lines) or 1
    before = 0
    for start in range(0, len(lines), size):
        block = b"".join(lines[start : start + size])
        reader.feed(block, before)
        before += block.count(b"\n")
    reader.close()


def read(
    files: dict[str, str], products: dict[str, str | None] | None = None, lines_per_block: int = 0
) -> SigninResult:
    collector = SigninCollector()
    for name, text in files.items():
        feed(collector, name, text, lines_per_block)
    nodes = {name: name.split(".")[0] for name in files}
    return build(collector, nodes, products if products is not None else EXPE_PRODUCTS)


def messages(result: SigninResult) -> list[HttpMessage]:
    return [m for attempt in result.attempts for m in attempt.messages]


def exp_c_request(when=START, path="/CSFmarcoalh.cnf.xml", client=CLIENT, **kw) -> list[str]:  # type: ignore[no-untyped-def]
    return ts_request(
        "expc1",
        when,
        path,
        txn=3028,
        tracking=TRACKING,
        dst="10.0.0.10",
        port=6972,
        client=client,
        **kw,
    )


def text(*groups: list[str], newline: str = "\n") -> str:
    return newline.join(line for group in groups for line in group) + newline


# --- the public line forms -----------------------------------------------------------------


def test_the_doc_225746_request_with_its_httpmsg_block() -> None:
    result = read({"expc1.log": text(exp_c_request())})
    (message,) = messages(result)
    assert (message.method, message.path, message.direction) == (
        "GET",
        "/CSFmarcoalh.cnf.xml",
        "out",
    )
    assert message.peer == "10.0.0.10:6972" and message.node == "expc1"
    assert message.time is not None and message.time == START
    assert message.tracking_id == TRACKING and message.txn_id == "3028"
    assert message.client_ip == CLIENT and message.user_agent == "WebEx/0.0.0.0"
    assert message.line == 1 and not message.cut
    (attempt,) = result.attempts
    assert attempt.client == CLIENT and attempt.steps == ["TFTP config"]
    assert attempt.outcome == "no response logged"


def test_the_doc_117811_flattened_403_and_its_event_are_one_response() -> None:
    lines = ts_response(
        "ExpresswayE", None, 403, "Forbidden", txn=2, dst="10.48.79.80", port=50314, flat=True
    )
    result = read({"expe1.log": text(lines)})
    (message,) = messages(result)
    assert (message.status, message.reason, message.peer) == (403, "Forbidden", "10.48.79.80:50314")
    (attempt,) = result.attempts
    assert attempt.client == "10.48.79.80"  # the Exp-E answered it: the client
    assert (attempt.outcome, attempt.failed_status) == ("failed", 403)


def test_the_error_event_alone_is_a_response_and_repeats_are_not_counted_twice() -> None:
    block = ts_response("expe1", START, 403, "Forbidden", txn=2, dst=CLIENT, port=50314)
    event_only = [block[-1]]
    result = read({"expe1.log": text(block, event_only)})
    statuses = [(m.source, m.status) for m in messages(result)]
    assert statuses == [("trafficserver", 403), ("event", 403)]  # the second event is another
    single = read({"expe1.log": text(block)})
    assert [(m.source, m.status) for m in messages(single)] == [("trafficserver", 403)]
    alone = read({"expe1.log": text(event_only)})
    (message,) = messages(alone)
    assert (message.source, message.status, message.reason, message.direction) == (
        "event",
        403,
        "Forbidden",
        "out",
    )
    assert alone.attempts[0].client == CLIENT and alone.attempts[0].outcome == "failed"


def test_the_doc_211304_uds_401_names_the_user_and_the_failing_step() -> None:
    lines = uds_401("expc1", START, "pstojano") + auth_failed("expc1", START, "pstojano")
    result = read({"expc1.log": text(lines)})
    kinds = [(m.source, m.status, m.user) for m in messages(result)]
    assert kinds == [("edgeconfig", 401, "pstojano"), ("note", None, "pstojano")]  # INFO copy: once
    response = messages(result)[0]
    assert (
        response.peer == "10.0.97.131:8443" and response.path == "/cucm-uds/user/pstojano/devices"
    )
    assert response.www_authenticate == 'Basic realm="Cisco Web Services Realm"'
    (attempt,) = result.attempts
    assert attempt.user == "pstojano"
    assert (attempt.outcome, attempt.failed_step, attempt.failed_status) == ("failed", "UDS", 401)
    assert attempt.notes == ["Failed to authenticate user against server (pstojano)"]


def test_short_milliseconds_read_as_in_doc_211304() -> None:
    lines = uds_401("expc1", START, "u")
    lines[0] = lines[0].replace(
        'UTCTime="2026-01-29 19:01:16,974"', 'UTCTime="2014-09-25 17:46:20,92"'
    )
    (message,) = messages(read({"expc1.log": text(lines)}))
    assert message.time is not None and message.time.microsecond == 920_000


def test_the_edge_config_path_decodes_its_domain() -> None:
    assert decode_segment("/dGJ0cC5jb20/get_edge_config/") == ("tbtp.com", "/get_edge_config/")
    decoded, rest = decode_segment("/c3RldmVuLmxhYi9odHRwcy8xMC40OC4zNi4yMTUvODQ0Mw/cucm-uds/users")
    assert decoded == "steven.lab/https/10.48.36.215/8443" and rest == "/cucm-uds/users"
    assert decode_segment("/cucm-uds/users") == ("", "/cucm-uds/users")


# --- one attempt across both Expressways ---------------------------------------------------


def two_node_attempt(status: int = 401, reason: str = "Unauthorized") -> dict[str, str]:
    expe = ts_request(
        "expe1",
        START,
        "/ZXhhbXBsZS5jb20/get_edge_config/",
        txn=11,
        tracking=TRACKING,
        dst="127.0.0.1",
        port=8443,
        client=CLIENT,
        agent="Jabber/14.1",
    ) + ts_response(
        "expe1", START + timedelta(milliseconds=300), status, reason, txn=11, dst=CLIENT, port=50314
    )
    expc = exp_c_request(START + timedelta(milliseconds=100), "/cucm-uds/user/bob/devices")
    return {"expe1.log": text(expe), "expc1.log": text(expc)}


def test_an_attempt_is_drawn_client_expressway_e_expressway_c_unified_cm() -> None:
    result = read(two_node_attempt())
    (attempt,) = result.attempts
    assert attempt.client == CLIENT and attempt.nodes == ["expe1", "expc1"]
    assert (attempt.outcome, attempt.failed_step, attempt.failed_status) == (
        "failed",
        "edge config",
        401,
    )
    ladder, numbers = lay_out(attempt, result.products)
    labels = [c.label for c in ladder.columns]
    assert labels == [
        "Client (Jabber/14.1)",
        "expe1 (Expressway-E)",
        "expc1 (Expressway-C)",
        "Unified CM",
    ]
    assert attempt.user == "bob" and attempt.steps == ["edge config", "UDS"]
    arrows = [(a.src, a.dst, a.label, a.klass) for a in ladder.arrows]
    assert arrows == [
        (1, 2, "GET /ZXhhbXBsZS5jb20/get_edge_config/", "request"),
        (2, 3, "GET /cucm-uds/user/bob/devices", "request"),
        (1, 0, "401 Unauthorized", "error"),
    ]
    assert numbers == [1, 2, 3]
    assert "401 Unauthorized" in to_text(ladder)


def test_a_success_is_not_a_failure_and_a_later_retry_is_another_attempt() -> None:
    first = two_node_attempt(200, "OK")
    later = ts_response(
        "expe1",
        START + timedelta(minutes=5),
        502,
        "Next Hop Connection Failed",
        txn=12,
        dst=CLIENT,
        port=50400,
    )
    files = {**first, "expe1.log": first["expe1.log"] + text(later)}
    result = read(files)
    assert [a.outcome for a in result.attempts] == ["succeeded", "failed"]
    assert result.attempts[1].failed_status == 502
    assert result.attempts[1].failed_reason == "Next Hop Connection Failed"


def test_clients_are_kept_apart() -> None:
    one = exp_c_request(START, client="198.51.100.1")
    two = exp_c_request(START + timedelta(seconds=1), client="198.51.100.2")
    result = read({"expc1.log": text(one, two)})
    assert sorted(a.client for a in result.attempts) == ["198.51.100.1", "198.51.100.2"]


# --- hostile and damaged input -------------------------------------------------------------


@pytest.mark.parametrize("lines_per_block", [1, 2, 3, 7, 0])
def test_blocks_cut_anywhere_give_the_same_messages(lines_per_block: int) -> None:
    files = two_node_attempt()
    whole = [message_to_json(m) for m in messages(read(files))]
    cut = [message_to_json(m) for m in messages(read(files, lines_per_block=lines_per_block))]
    assert cut == whole and len(whole) == 3


def test_crlf_lines_and_a_remote_syslog_prefix() -> None:
    lines = exp_c_request()
    lines[0] = "<134>Jan 29 14:01:16 192.0.2.5 " + lines[0]
    result = read({"expc1.log": text(lines, newline="\r\n")})
    (message,) = messages(result)
    assert (message.method, message.path, message.client_ip) == (
        "GET",
        "/CSFmarcoalh.cnf.xml",
        CLIENT,
    )
    assert message.user_agent == "WebEx/0.0.0.0" and message.time == START


def test_a_block_cut_by_the_end_of_the_log_is_read_as_far_as_it_goes() -> None:
    lines = exp_c_request()[:6]  # no closing " |"
    (message,) = messages(read({"expc1.log": text(lines)}))
    assert message.cut and message.method == "GET" and message.host == "10.0.0.10:6972"
    only_header = exp_c_request()[:1]
    (bare,) = messages(read({"expc1.log": text(only_header)}))
    assert bare.method == "?" and bare.cut


def test_binary_junk_neither_crashes_nor_invents_messages() -> None:
    rng = random.Random(13)
    junk = bytes(rng.randrange(256) for _ in range(200_000))
    collector = SigninCollector()
    reader = collector.observer("junk.log", FileKind.LOG)
    assert reader is not None
    noisy = (
        junk
        + b'\nModule="network.http.trafficserver" Detail="Sending Request"\nHTTPMSG:\n|\xff\xfe\n'
    )
    reader.feed(noisy + junk, 0)
    reader.close()
    found = collector.all_messages()
    assert all(m.method in ("?", None) and not m.path for m in found)
    json.dumps([message_to_json(m) for m in found])  # storable


def test_a_huge_block_keeps_only_its_head() -> None:
    filler = [f" X-Filler-{n}: " + "a" * 200 for n in range(20_000)]  # ~4 MB of headers
    lines = exp_c_request()
    lines = lines[:-2] + filler + [" Server: after-the-filler"] + lines[-2:]
    collector = SigninCollector()
    reader = collector.observer("expc1.log", FileKind.LOG)
    assert reader is not None
    reader.feed(text(lines).encode(), 0)
    assert reader.open is None
    reader.close()
    (message,) = collector.all_messages()
    assert message.method == "GET" and message.server == ""  # past MAX_BLOCK_KEEP: not read
    assert MAX_BLOCK_KEEP < 4 * 2**20


def test_the_budget_counts_what_it_does_not_keep() -> None:
    collector = SigninCollector(max_messages=5)
    feed(
        collector,
        "expc1.log",
        text(*[exp_c_request(START + timedelta(seconds=n)) for n in range(12)]),
    )
    assert collector.kept == 5 and collector.dropped == 7
    assert "7 HTTP log lines past the first 5 messages" in collector.warnings()[0]
    full = SigninCollector(max_messages=1)
    block = text(*[exp_c_request(START + timedelta(seconds=n)) for n in range(4)])
    feed(full, "a.log", block)  # fills the budget in this block: the rest is counted per line
    feed(full, "b.log", block, lines_per_block=5)  # full from its first block: counted per block
    assert full.kept == 1 and full.dropped == 3 + 4


def test_secrets_are_redacted_and_authorization_is_never_kept() -> None:
    path = (
        "/oauth/token?grant_type=refresh_token&refresh_token=eyJsecret&access_token=abc"
        "&code=xyz&password=hunter2&user=bob"
    )
    extra = (
        " Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.secret",
        # the X-Auth cookie line of doc 117811
        " Set-Cookie: X-Auth=1e1111e1-dddb-49e9-ad0d-ab34526e2b00; Expires=Fri, 09 May 2014 "
        "20:21:31 GMT; Domain=.vngtp.lab ; Path=/; Secure",
    )
    result = read({"expc1.log": text(exp_c_request(path=path, extra=extra))})
    stored = json.dumps([message_to_json(m) for m in messages(result)])
    for secret in ("eyJsecret", "abc", "xyz", "hunter2", "eyJhbGci", "1e1111e1", "CONCEALED"):
        assert secret not in stored
    (message,) = messages(result)
    assert message.path == (
        "/oauth/token?grant_type=refresh_token&refresh_token=REDACTED&access_token=REDACTED"
        "&code=REDACTED&password=REDACTED&user=bob"
    )
    assert (
        message.set_cookie.startswith("X-Auth=REDACTED; Expires=")
        and "Domain=.vngtp.lab" in message.set_cookie
    )
    assert result.attempts[0].steps == ["OAuth"]
    assert (
        redact_url("https://idp.example.com/sso?SAMLResponse=PHNhbWw&RelayState=x")
        == "/sso?SAMLResponse=REDACTED&RelayState=x"
    )
    jwt_path = "/api/eyJhbGciOi.eyJzdWIiOiJib2Ii.c2lnbmF0dXJl/x#access_token=y"
    assert redact_url(jwt_path) == "/api/REDACTED/x"  # a token in the path, the fragment dropped


def test_markup_from_a_log_is_escaped_in_the_ladder() -> None:
    path = "/<script>alert(1)</script>"
    result = read({"expc1.log": text(exp_c_request(path=path, agent="<script>x</script>"))})
    ladder, _ = lay_out(result.attempts[0], result.products)
    svg = to_svg(ladder)
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_other_files_and_kinds_are_not_observed() -> None:
    collector = SigninCollector()
    assert collector.observer("xconf.txt", FileKind.XCONF) is None
    calls = SigninCollector()
    observe = combine(collector.observer, None, calls.observer)
    assert observe is not None
    both = observe("expc1.log", FileKind.LOG)
    assert both is not None
    block = text(exp_c_request()).encode()
    both.feed(block, 0, both.prepare(block))
    both.close()
    assert len(collector.all_messages()) == len(calls.all_messages()) == 1
    assert combine(None, None) is None


def test_the_real_public_log_holds_no_sign_in_and_none_is_invented() -> None:
    real = SHARED / "data/real/expressway-e_mra_call.txt"
    if not real.exists():
        pytest.skip("the real public log is not on this machine")
    collector = SigninCollector()
    reader = collector.observer("real.txt", FileKind.LOGGINGSNAPSHOT)
    assert reader is not None
    reader.feed(real.read_bytes(), 0)
    reader.close()
    assert collector.all_messages() == []  # SIP and developer lines only: no HTTP request


def test_a_response_shows_only_its_own_headers_and_takes_its_request_client() -> None:
    result = read(two_node_attempt())
    response = next(m for m in messages(result) if m.node == "expe1" and m.status == 401)
    assert response.client_ip == "" and response.tracking_id == ""  # not in its block
    assert response.request_client.startswith(CLIENT) and response.request_tracking == TRACKING
    assert response.path == "/ZXhhbXBsZS5jb20/get_edge_config/"  # its request's: its step


def test_a_request_both_expressways_logged_is_one_arrow() -> None:
    """The Exp-C's `Detail="Received Request"` line is read by symmetry with the published
    `Sending Request` form (domain.md §2.4 (d) shows only the Sending forms): the E's copy
    and the C's copy of one request within 2 s are one arrow."""
    expe = ts_request(
        "expe1",
        START,
        "/cucm-uds/user/bob/devices",
        txn=11,
        tracking=TRACKING,
        dst="127.0.0.1",
        port=8443,
        client=CLIENT,
    )
    expc = [
        line.replace('Detail="Sending Request"', 'Detail="Received Request"')
        .replace('Dst-ip="127.0.0.1"', 'Src-ip="127.0.0.1"')
        .replace('Dst-port="8443"', 'Src-port="41234"')
        .replace("19:01:16,974", "19:01:17,074")
        for line in expe
    ]
    expc = [line.replace("expe1", "expc1") for line in expc]
    result = read({"expe1.log": text(expe), "expc1.log": text(expc)})
    (attempt,) = result.attempts
    assert [m.direction for m in attempt.messages] == ["out", "in"]
    ladder, numbers = lay_out(attempt, result.products)
    assert numbers == [1, 1] and len(ladder.arrows) == 1
    assert [c.label for c in ladder.columns] == ["expe1 (Expressway-E)", "expc1 (Expressway-C)"]


def test_kept_sign_in_messages_share_one_copy_of_their_repeated_text() -> None:
    # memory per message: two requests of one client hold one copy of the peer, path, host,
    # user agent and client address (not two), and a message has no per-instance __dict__
    later = START + timedelta(seconds=1)
    result = read({"expc1.log": text(exp_c_request(), exp_c_request(when=later))})
    first, second = messages(result)
    for name in ("peer", "path", "user_agent", "client_ip", "tracking_id"):
        assert getattr(first, name), name
        assert getattr(first, name) is getattr(second, name), name
    assert not hasattr(first, "__dict__")


@pytest.mark.parametrize(
    ("source", "method", "path", "peer", "step"),
    [
        ("note", None, "", "", "UDS"),
        ("trafficserver", "GET", "/dGJ0cC5jb20/get_edge_config/", "10.0.0.1:8443", "edge config"),
        ("trafficserver", "GET", "/cucm-uds/user/jdoe/devices", "10.0.0.1:8443", "UDS"),
        ("trafficserver", "POST", "/cucm-oauth/token", "10.0.0.1:8443", "OAuth"),
        ("trafficserver", "GET", "/ssosp/saml/login", "10.0.0.1:8443", "SSO"),
        ("trafficserver", "GET", "/SEPABC.cnf.xml", "10.0.0.1:8443", "TFTP config"),
        ("trafficserver", "GET", "/vmrest/mailbox", "10.0.0.1:6972", "TFTP config"),  # port wins
        ("trafficserver", "GET", "/anything", "10.0.0.1:6970", "TFTP config"),
        ("trafficserver", "GET", "/vmrest/mailbox", "10.0.0.1:8443", "voicemail"),
        ("trafficserver", "GET", "/cup/presence", "10.0.0.1:8443", "IM and Presence"),
        ("trafficserver", "GET", "/cucm-uds/x", "10.0.0.1:6972", "UDS"),  # path before port
        ("trafficserver", "GET", "/other", "10.0.0.1:8443", "HTTP"),
        ("trafficserver", "GET", "", "10.0.0.1:8443", "HTTP (path not logged)"),
        ("trafficserver", None, "", "10.0.0.1:8443", "HTTP (request not logged)"),
    ],
)
def test_step_of_each_message(
    source: str, method: str | None, path: str, peer: str, step: str
) -> None:
    message = HttpMessage(
        time=None, file="log", line=1, source=source, direction="out" if source != "note" else "",
        peer=peer, method=method, path=path,
    )  # fmt: skip
    assert signin_flow.step_of(message) == step
    assert signin_flow.step_of(message) == step  # (the path's step, remembered, is the same)


def _step_before(message: HttpMessage) -> str:
    """step_of as it was before it skipped the path's lookup for messages without a path."""
    if message.source == "note":
        return "UDS"
    before_port, after_port = signin_flow._steps_of_path(message.path)
    if before_port is not None:
        return before_port
    if message.peer.endswith((":6970", ":6972")):
        return "TFTP config"
    if after_port is not None:
        return after_port
    if message.path:
        return "HTTP"
    return "HTTP (path not logged)" if message.is_request else "HTTP (request not logged)"


def test_step_of_gives_what_it_gave_before_for_every_kind_of_message() -> None:
    paths = ["", "/", "/cucm-uds/x", "/dGJ0cC5jb20/get_edge_config/", "/oauth/token", "/x.cnf.xml",
             "/vmrest/m", "/cup/p", "/other", "/sso/saml", "/%ZZ", "/YQ==/vmrest"]  # fmt: skip
    peers = ["", "10.0.0.1:8443", "10.0.0.1:6970", "10.0.0.1:6972", "host:6970x"]
    for source in ("trafficserver", "edgeconfig", "event", "note"):
        for method in ("GET", "", None):
            for path in paths:
                for peer in peers:
                    message = HttpMessage(
                        time=None, file="log", line=1, source=source, direction="in",
                        peer=peer, method=method, path=path,
                    )  # fmt: skip
                    assert signin_flow.step_of(message) == _step_before(message), message


def test_messages_are_put_in_time_order_then_file_and_line_the_untimed_last() -> None:
    rng = random.Random(11)
    times = [START + timedelta(seconds=rng.randrange(5)) for _ in range(3)]
    messages = [
        HttpMessage(
            time=rng.choice([*times, None]),
            file=rng.choice(["b.log", "a.log"]),
            line=rng.randrange(1, 6),
            source="trafficserver",
            direction="in",
            peer="198.51.100.7:5061",
        )
        for _ in range(300)
    ]
    expected = sorted(
        messages,
        key=lambda m: (m.time is None, m.time or START, m.file, m.line),
    )
    ordered = signin_flow.in_time_order(messages)
    assert [id(m) for m in ordered] == [id(m) for m in expected]  # ties keep the input order
    timed = [m for m in messages if m.time is not None]
    assert [id(m) for m in signin_flow.in_time_order(timed)] == [
        id(m) for m in expected if m.time is not None
    ]
    # each file's messages as a reader keeps them (by line, ties as logged), in a dict of files
    # in any order: put in file order, then sorted by time alone, they come in the same order
    by_file: dict[str, list[HttpMessage]] = {}
    for message in sorted(messages, key=lambda m: m.line):
        by_file.setdefault(message.file, []).append(message)
    in_files = signin_flow.in_file_order(dict(sorted(by_file.items(), reverse=True)))
    assert [id(m) for m in in_files] == [
        id(m) for m in sorted(messages, key=lambda m: (m.file, m.line))
    ]
    ordered = signin_flow.in_time_order(in_files, in_place_order=True)
    assert [id(m) for m in ordered] == [id(m) for m in signin_flow.in_time_order(in_files)]
    by_file["a.log"].reverse()  # (a file out of line order is sorted)
    assert [m.line for m in signin_flow.in_file_order(by_file)][: len(by_file["a.log"])] == sorted(
        m.line for m in by_file["a.log"]
    )
