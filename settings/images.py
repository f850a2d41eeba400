"""Container image references, and the rule that every image is pinned.

The grammar is the one Docker, containerd and the kubelet parse: the documented grammar of the
`reference` package of github.com/distribution/reference (v0.6),

    reference := name [ ":" tag ] [ "@" digest ]
    name      := [ domain "/" ] path-component [ "/" path-component ]*

with lower-case path components, a tag of at most 128 word characters, '.' and '-', and a name of
at most 255 characters. Pinned means a tag that names a version (not `latest`, `main`, ..., and
with a digit in it), a sha256 digest, or both (`name:tag@sha256:<64 hex>`: the tag stays readable,
the runtime pulls by the digest).
"""

from __future__ import annotations

import re
from collections.abc import Callable

_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_PART}(?:\.{_DOMAIN_PART})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH}(?:/{_PATH})*"
_TAG = r"\w[\w.-]{0,127}"
_NAME_TAG = re.compile(rf"({_NAME})(?::({_TAG}))?", re.ASCII)
_SHA256 = re.compile(r"sha256:[0-9a-f]{64}")
FLOATING_TAGS = {"latest", "main", "master", "dev", "nightly", "edge", "stable"}


def image_problem(image: str, example: str) -> str | None:
    """Why `image` is not a pinned reference (the message names `example`), or None."""
    reference, at, digest = image.partition("@")
    match = _NAME_TAG.fullmatch(reference)
    if not match or len(match.group(1)) > 255:
        return (
            f"is not an image reference such as {example} ([registry/]name:tag, the name "
            f"in lower case)"
        )
    tag = match.group(2)
    if at:
        if not _SHA256.fullmatch(digest):
            return (
                f"the digest must be sha256: and 64 lower-case hex digits, e.g. "
                f"{example}@sha256:<64 hex> (`docker inspect --format "
                f"'{{{{index .RepoDigests 0}}}}' {example}` prints it)"
            )
        return None
    if tag is None:
        return f"names no tag (that means :latest); pin a version such as {example}"
    if tag.lower() in FLOATING_TAGS or not re.search(r"[0-9]", tag):
        return f"tag '{tag}' floats; pin a version such as {example}"
    return None


def pinned_image(example: str) -> Callable[[str], str]:
    """The field check for one image setting; its messages show `example` (the default)."""

    def check(image: str) -> str:
        problem = image_problem(image, example)
        if problem is not None:
            raise ValueError(problem)
        return image

    return check
