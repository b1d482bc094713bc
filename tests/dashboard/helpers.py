"""Reading what a person gets: links in emails and the text of a page."""

from __future__ import annotations

import html
import re

from django.core import mail

PASSWORD = "correct horse battery"  # what tests.factories.UserFactory sets


def link_in(message: mail.EmailMessage, path_prefix: str) -> str:
    """The path of the first http://testserver link in an email that starts with the prefix."""
    match = re.search(rf"https?://testserver({re.escape(path_prefix)}\S+)", message.body)
    assert match, f"no {path_prefix} link in:\n{message.body}"
    return match.group(1)


def last_invitation_link() -> str:
    assert mail.outbox, "no email was sent"
    return link_in(mail.outbox[-1], "/invitations/")


def visible_text(content: bytes | str) -> str:
    """A page's text as a reader sees it: no tags, entities decoded, whitespace collapsed."""
    text = content.decode() if isinstance(content, bytes) else content
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def section(content: bytes, heading: str) -> str:
    """The visible text of the page's <section> whose <h2> is `heading`."""
    text = content.decode()
    for match in re.finditer(r"<section\b.*?</section>", text, flags=re.S):
        if re.search(rf"<h2>\s*{re.escape(heading)}\s*</h2>", match.group(0)):
            return visible_text(match.group(0))
    raise AssertionError(f"no section headed {heading!r} on the page")


def sign_up_through_email(client, fields: dict[str, str]):
    """Send the sign-up form, follow the emailed link and press "Create account": the page
    the person lands on (redirects followed)."""
    client.post("/signup/", fields)
    confirm = link_in(mail.outbox[-1], "/signup/confirm/")
    return client.post(confirm, follow=True)
