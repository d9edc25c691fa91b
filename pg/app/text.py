"""Text from outside (a file's name, what a file holds) shown as Markdown exactly as it is:
nothing in it may render as a link, an image the browser would fetch, emphasis or math."""

from __future__ import annotations

import re


def file_name(name: str) -> str:
    """A file name as Markdown that shows it exactly as it is: a code span, so nothing in the
    name renders (links, images the browser would fetch, emphasis, math, colours).

    The fence is one backtick longer than any run of backticks in the name (CommonMark), and
    line breaks and other control characters become spaces.
    """
    text = "".join(ch if ch.isprintable() else " " for ch in str(name)) or " "
    fence = "`" * (1 + max((len(run) for run in re.findall("`+", text)), default=0))
    pad = " " if text[0] in "` " or text[-1] in "` " else ""  # CommonMark strips one space each side
    return f"{fence}{pad}{text}{pad}{fence}"


_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character
_AUTOLINK = re.compile(r"(?i)(www|https?|ftp|mailto)(?=[.:])|(@)")


def plain(text: str) -> str:
    """Text (a CheckpointError's message quotes what the file holds) as Markdown that shows it
    as it is: every ASCII punctuation character backslash-escaped (no link, image, emphasis,
    HTML, math or colour), and a zero-width space after "www", "http" or "@" so that GitHub
    Markdown does not turn a bare address in it into a link."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(text))
    return _PUNCTUATION.sub(r"\\\1", _AUTOLINK.sub(lambda m: m.group(0) + "\u200b", text))
