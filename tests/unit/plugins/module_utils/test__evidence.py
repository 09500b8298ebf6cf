# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A message's evidence: the EML read for who sent it and where its links go; the files; the reads, request by request."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import os
import stat
import textwrap

import pytest

from ansible_collections.mailsec.cloudflare.plugins.module_utils._errors import ValidationError
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.eml import MAX_LINK_DOMAINS, analyse_eml
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.evidence import (
    EvidenceFiles,
    EvidenceReader,
    EvidenceUnavailable,
    check_evidence_options,
)
from ansible_collections.mailsec.cloudflare.plugins.module_utils._reads.message_info import find_messages
from ansible_collections.mailsec.cloudflare.tests.unit.plugins.conftest import real_client
from ansible_collections.mailsec.cloudflare.tests.unit.plugins.module_utils.test__message_info import (
    ACCOUNT,
    MESSAGES,
    envelope,
    params,
)

MESSAGE_ID = "aaaa-2026-11-24T08:00:00-1"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
PHISH = textwrap.dedent(
    """\
    Received: from mail.mailer.example (mail.mailer.example [203.0.113.25])
     by mx.cloudflare.example with ESMTPS id 1; Mon, 7 Dec 2026 09:00:00 +0000
    Received: from [10.0.0.7] by mail.mailer.example; Mon, 7 Dec 2026 08:59:58 +0000
    Authentication-Results: mx.cloudflare.example; spf=pass (sender ok) smtp.mailfrom=mailer.example;
     dkim=none; dmarc=fail (p=reject dis=none) header.from=contoso-payments.example; arc=none
    Authentication-Results: forged.example; spf=pass; dkim=pass; dmarc=pass
    ARC-Seal: i=1; a=rsa-sha256; cv=none; d=mailer.example; s=a; b=abc
    ARC-Seal: i=2; a=rsa-sha256; cv=fail; d=relay.example; s=a; b=def
    Return-Path: <bounce@mailer.example>
    From: "Contoso Billing" <billing@contoso-payments.example>
    Sender: agent@billing.contoso-payments.example
    Reply-To: pay@c0ntoso-payments.example
    To: alice@corp.example
    Subject: [Reset your password](https://evil.example)
    MIME-Version: 1.0
    Content-Type: multipart/mixed; boundary="outer"

    --outer
    Content-Type: multipart/alternative; boundary="inner"

    --inner
    Content-Type: text/plain; charset=utf-8

    Pay now at https://c0ntoso-payments.example/pay?x=1 or ftp://files.example/a
    --inner
    Content-Type: text/html; charset=utf-8
    Content-Transfer-Encoding: quoted-printable

    <html><body><script>document.location=3D"https://script.example/"</script>
    <a href=3D"https://C0NTOSO-payments.example./login">Log in</a>
    <img src=3D"https://tracker.example/pixel.gif">
    <a href=3D"mailto:someone@corp.example">mail</a><a href=3D"javascript:alert(1)">x</a>
    </body></html>
    --inner--
    --outer
    Content-Type: application/pdf; name="invoice.pdf"
    Content-Disposition: attachment; filename="invoice.pdf"
    Content-Transfer-Encoding: base64

    JVBERi0xLjQK
    --outer--
    """
).encode("utf-8")


def test_the_eml_says_who_sent_it_how_it_authenticated_and_where_it_links():
    found = analyse_eml(PHISH)

    senders = found["senders"]
    assert senders["addresses"] == {
        "from": "billing@contoso-payments.example",
        "sender": "agent@billing.contoso-payments.example",
        "reply_to": "pay@c0ntoso-payments.example",
        "return_path": "bounce@mailer.example",
    }
    # A subdomain of From's domain is aligned; another domain, or a lookalike, is not.
    assert senders["mismatched"] == ["reply_to", "return_path"] and senders["mismatch"] is True
    assert senders["from_name"] == "Contoso Billing"
    authentication = found["authentication"]
    # The topmost header's verdicts, never the forged one below it.
    assert (authentication["spf"], authentication["dkim"], authentication["dmarc"], authentication["arc"]) == (
        "pass",
        "none",
        "fail",
        "none",
    )
    assert authentication["authserv_id"] == "mx.cloudflare.example"
    assert authentication["earlier_results_headers"] == 1
    assert (authentication["arc_chain"], authentication["arc_seal"]) == (2, "fail")
    assert found["received"] == {
        "hops": 2,
        "first_external": {
            "from_host": "mail.mailer.example",
            "ip": "203.0.113.25",
            "by_host": "mx.cloudflare.example",
            "at": "Mon, 7 Dec 2026 09:00:00 +0000",
        },
    }
    # A URL in a script is where the message would send its reader too; mailto: and javascript: point at no domain.
    assert found["links"]["domains"] == [
        "c0ntoso-payments.example",
        "files.example",
        "script.example",
        "tracker.example",
    ]
    assert found["attachments"] == [
        {
            "name": "invoice.pdf",
            "content_type": "application/pdf",
            "size": 9,
            "sha256": hashlib.sha256(b"%PDF-1.4\n").hexdigest(),
        }
    ]


def test_a_message_with_no_authentication_results_and_no_links_says_so():
    found = analyse_eml(b"From: a@b.example\r\nSubject: hi\r\n\r\nhello\r\n")

    assert found["authentication"]["dmarc"] is None and found["authentication"]["authserv_id"] is None
    assert found["received"] == {"hops": 0, "first_external": None}
    assert found["links"] == {"count": 0, "domains": [], "distinct_domains": 0, "truncated": False}
    assert found["senders"]["mismatch"] is False


def test_link_domains_stop_at_100_and_say_how_many_there_were():
    body = "\n".join("https://host%d.example/x" % n for n in range(130))

    links = analyse_eml(("From: a@b.example\r\n\r\n%s\r\n" % body).encode("utf-8"))["links"]

    assert len(links["domains"]) == MAX_LINK_DOMAINS and links["distinct_domains"] == 130 and links["truncated"]


def test_a_broken_eml_is_still_read_for_what_it_has():
    found = analyse_eml(
        b"From: <<<\r\nContent-Type: text/html; charset=nonexistent-charset\r\n\r\n<a href='http://x.example'>"
    )

    assert found["links"]["domains"] == ["x.example"]
    assert found["senders"]["addresses"]["from"] is None


def test_files_are_private_named_by_id_and_never_replaced(tmp_path):
    directory = str(tmp_path / "evidence")
    files = EvidenceFiles(directory, check_mode=False)

    first = files.save("a:b/c", ".png", b"one")
    again = files.save("a:b/c", ".png", b"one")
    other = files.save("a:b/c", ".png", b"two")

    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert first["path"] == os.path.join(directory, "a_b_c.png") and first["saved"] is True
    assert stat.S_IMODE(os.stat(first["path"]).st_mode) == 0o600
    assert again == dict(first, saved=False)
    assert other["path"] == os.path.join(directory, "a_b_c.%s.png" % hashlib.sha256(b"two").hexdigest()[:16])
    assert open(first["path"], "rb").read() == b"one" and open(other["path"], "rb").read() == b"two"
    assert sorted(os.listdir(directory)) == sorted(os.path.basename(r["path"]) for r in (first, other))


def test_check_mode_writes_nothing_and_says_where_it_would(tmp_path):
    record = EvidenceFiles(str(tmp_path / "evidence"), check_mode=True).save("m1", ".eml", b"x")

    assert record["path"].endswith("m1.eml") and record["saved"] is False
    assert not (tmp_path / "evidence").exists()


@pytest.mark.parametrize(
    "include, directory, content, message",
    [
        (["preview"], None, False, "set evidence_dir"),
        (["raw", "preview"], "relative/dir", False, "absolute path"),
    ],
)
def test_evidence_that_would_go_nowhere_is_refused_before_any_request(include, directory, content, message):
    with pytest.raises(ValidationError, match=message):
        check_evidence_options(include, directory, content)


def test_evidence_options_that_make_sense_pass():
    check_evidence_options(["trace"], None, False)
    check_evidence_options(["preview"], None, True)
    check_evidence_options(["raw"], "/srv/evidence", False)


def _message(final_disposition="MALICIOUS"):
    return {"id": MESSAGE_ID, "is_quarantined": True, "final_disposition": final_disposition}


def test_the_evidence_of_a_message_costs_two_requests_and_lands_in_private_files(api, tmp_path):
    api.get("%s/%s" % (MESSAGES, MESSAGE_ID), json=envelope(_message()))
    api.get("%s/%s/preview" % (MESSAGES, MESSAGE_ID), json=envelope({"screenshot": base64.b64encode(PNG).decode()}))
    api.get("%s/%s/raw" % (MESSAGES, MESSAGE_ID), json=envelope({"raw": PHISH.decode("utf-8")}))
    client = real_client()

    report = find_messages(
        client, ACCOUNT, params(include=["preview", "raw"], evidence_dir=str(tmp_path)), [MESSAGE_ID], None, 1
    )

    message = report.messages[0]
    assert client.requests_sent == 3 and report.unavailable_parts == 0
    assert message["preview"]["sha256"] == hashlib.sha256(PNG).hexdigest() and message["preview"]["size"] == len(PNG)
    assert open(message["preview"]["path"], "rb").read() == PNG and message["preview"]["source"] == "detection"
    assert open(message["raw"]["path"], "rb").read() == PHISH
    assert message["raw"]["authentication"]["dmarc"] == "fail" and message["raw"]["senders"]["mismatch"]
    # The bytes stay in the files unless asked for.
    assert "content" not in message["preview"] and "content" not in message["raw"]


def test_the_bytes_are_returned_only_when_asked(api):
    api.get("%s/%s" % (MESSAGES, MESSAGE_ID), json=envelope(_message()))
    api.get("%s/%s/preview" % (MESSAGES, MESSAGE_ID), json=envelope({"screenshot": base64.b64encode(PNG).decode()}))

    report = find_messages(
        real_client(), ACCOUNT, params(include=["preview"], evidence_content=True), [MESSAGE_ID], None, 1
    )

    assert base64.b64decode(report.messages[0]["preview"]["content"]) == PNG
    assert report.messages[0]["preview"]["path"] is None


def test_a_message_without_detection_gets_reasons_and_costs_no_evidence_request(api, tmp_path):
    api.get("%s/%s" % (MESSAGES, MESSAGE_ID), json=envelope(_message("NONE")))
    client = real_client()

    report = find_messages(
        client, ACCOUNT, params(include=["preview", "raw"], evidence_dir=str(tmp_path)), [MESSAGE_ID], None, 1
    )

    unavailable = report.messages[0]["unavailable"]
    assert "no detection" in unavailable["preview"] and "mailbox_preview=true" in unavailable["preview"]
    assert "no detection" in unavailable["raw"]
    assert client.requests_sent == 1 and report.unavailable_parts == 2 and os.listdir(str(tmp_path)) == []


def test_a_preview_cloudflare_refuses_or_garbles_is_a_reason_and_the_eml_is_still_read(api, tmp_path):
    api.get("%s/%s" % (MESSAGES, MESSAGE_ID), json=envelope(_message()))
    api.get(
        "%s/%s/preview" % (MESSAGES, MESSAGE_ID),
        status=404,
        json=envelope(None, False, [{"code": 1004, "message": "no preview"}]),
    )
    api.get("%s/%s/raw" % (MESSAGES, MESSAGE_ID), json=envelope({"raw": "From: a@b.example\r\n\r\nhi\r\n"}))

    report = find_messages(
        real_client(), ACCOUNT, params(include=["preview", "raw"], evidence_dir=str(tmp_path)), [MESSAGE_ID], None, 1
    )

    message = report.messages[0]
    assert "HTTP 404" in message["unavailable"]["preview"] and "no preview" in message["unavailable"]["preview"]
    assert message["raw"]["senders"]["addresses"]["from"] == "a@b.example"


@pytest.mark.parametrize(
    "screenshot, reason",
    [("not base64!", "not base64"), (base64.b64encode(b"<svg onload=x>").decode(), "not a PNG"), ("", "no screenshot")],
)
def test_a_screenshot_that_is_not_a_png_is_never_saved(tmp_path, screenshot, reason):
    class Answer:
        result = {"screenshot": screenshot}

    class Client:
        def get(self, path):
            return Answer()

    reader = EvidenceReader(Client(), ACCOUNT, EvidenceFiles(str(tmp_path), False))
    with pytest.raises(EvidenceUnavailable, match=reason):
        reader.read(_message(), "preview")
    assert os.listdir(str(tmp_path)) == []


def test_the_mailbox_preview_of_a_clean_message_is_asked_for_once_a_read_token_is_refused(api, tmp_path):
    second = "bbbb-2026-11-24T11:00:00-2"
    api.get("%s/%s" % (MESSAGES, MESSAGE_ID), json=envelope(_message("NONE")))
    api.get("%s/%s" % (MESSAGES, second), json=envelope(dict(_message("NONE"), id=second)))
    api.post(
        "%s/preview" % MESSAGES,
        status=403,
        json=envelope(None, False, [{"code": 10000, "message": "Authentication error"}]),
    )
    client = real_client()

    report = find_messages(
        client,
        ACCOUNT,
        params(include=["preview"], evidence_dir=str(tmp_path), mailbox_preview=True),
        [MESSAGE_ID, second],
        None,
        1,
    )

    reasons = [m["unavailable"]["preview"] for m in report.messages]
    assert all("needs a token with Cloud Email Security: Write" in reason for reason in reasons)
    assert client.requests_sent == 3


def test_the_mailbox_preview_renders_a_clean_message_from_the_inbox(api, tmp_path):
    api.get("%s/%s" % (MESSAGES, MESSAGE_ID), json=envelope(_message("NONE")))
    api.post("%s/preview" % MESSAGES, json=envelope({"screenshot": base64.b64encode(PNG).decode()}))

    report = find_messages(
        real_client(),
        ACCOUNT,
        params(include=["preview"], evidence_dir=str(tmp_path), mailbox_preview=True),
        [MESSAGE_ID],
        None,
        1,
    )

    assert report.messages[0]["preview"]["source"] == "mailbox"
    assert api.calls[-1].request.body == b'{"id": "aaaa-2026-11-24T08:00:00-1"}'
