"""Images uploaded with a page or a news article.

Checked as the communes' logos are (ckanext-communes, logic/action.py): the
file's first bytes must be those of a PNG, JPEG, GIF or WebP image, whatever
its name or declared type, and it may not be larger than
`ckanext.grandlyon_access.editorial.image.max_bytes`. SVG is refused (it may
carry scripts). A kept image is stored under the portal's storage path
(`storage/uploads/editorial/`, served at `/uploads/editorial/<name>`) with a
random name and the extension of its sniffed type.
"""

from __future__ import annotations

import os
import uuid
from typing import IO, Any

import ckan.plugins.toolkit as tk
from ckanext.grandlyon_access import config

# First bytes of the accepted formats (WebP: RIFF....WEBP).
MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)
FOLDER = "editorial"


def image_kind(head: bytes) -> str | None:
    """The extension of an image from its first bytes (png, jpg, gif, webp),
    else None."""
    for magic, kind in MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def uploaded_stream(value: Any) -> IO[bytes] | None:
    """The stream of an uploaded file (a werkzeug FileStorage with a name),
    else None."""
    stream = getattr(value, "stream", None)
    if stream is None or not getattr(value, "filename", None):
        return None
    return stream


def check(stream: IO[bytes]) -> str:
    """The image's extension; raises ValidationError on `image_upload` for a
    file that is not a small PNG, JPEG, WebP or GIF image."""
    head = stream.read(16)
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    kind = image_kind(head)
    if kind is None:
        raise tk.ValidationError({"image_upload": [tk._(
            "The file is not a PNG, JPEG, WebP or GIF image (SVG is refused: it may carry "
            "scripts)")]})
    if size > config.editorial_image_max_bytes():
        raise tk.ValidationError({"image_upload": [tk._(
            "The image is larger than {n} bytes").format(n=config.editorial_image_max_bytes())]})
    return kind


def _folder() -> str:
    storage = tk.config.get("ckan.storage_path")
    if not storage:
        raise tk.ValidationError({"image_upload": [tk._(
            "Images cannot be uploaded: the portal has no storage path (ckan.storage_path)")]})
    folder = os.path.join(storage, "storage", "uploads", FOLDER)
    os.makedirs(folder, exist_ok=True)
    return folder


def store(stream: IO[bytes], kind: str) -> str:
    """Writes a checked image and returns its stored name."""
    name = f"{uuid.uuid4().hex}.{kind}"
    path = os.path.join(_folder(), name)
    with open(path + "~", "wb") as out:
        out.write(stream.read(config.editorial_image_max_bytes() + 1))
    os.replace(path + "~", path)
    return name


def remove(name: str) -> None:
    """Deletes a stored image (nothing when there is none)."""
    storage = tk.config.get("ckan.storage_path")
    if name and storage and "/" not in name and not name.startswith("."):
        try:
            os.remove(os.path.join(storage, "storage", "uploads", FOLDER, name))
        except OSError:
            pass


def url(name: str) -> str:
    """Where a stored image is served."""
    return tk.h.url_for_static(f"/uploads/{FOLDER}/{name}") if name else ""
