"""Images uploaded with a page or a news article.

Checked as the communes' logos are (`image_kind`, offered to the other
extensions by `shared`): the file's first bytes must be those of a PNG, JPEG, GIF or WebP image, whatever
its name or declared type, and it may not be larger than
`ckanext.grandlyon_access.editorial.image.max_bytes`. SVG is refused (it may
carry scripts). A kept image is stored by CKAN's uploader for the object
type `editorial` (an IUploader plugin such as object storage, or the storage
path: `storage/uploads/editorial/`, served at `/uploads/editorial/<name>`),
which checks its type again against `UPLOAD_MIMETYPES` (CKAN's
`ckan.upload.editorial.mimetypes`, set by the plugin: `set_upload_types`).
"""

from __future__ import annotations

import os
from typing import IO, Any

import ckan.lib.uploader as ckan_uploader
import ckan.plugins as plugins
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
# What CKAN's uploader accepts for the object type `editorial`.
UPLOAD_MIMETYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"]


def set_upload_types(config: Any) -> None:
    """Tells CKAN's uploader the types of the object type `editorial` (it
    refuses any upload of an object type without them)."""
    config["ckan.upload.editorial.mimetypes"] = list(UPLOAD_MIMETYPES)
    config["ckan.upload.editorial.types"] = ["image"]


def image_kind(head: bytes) -> str | None:
    """The extension of an image from its first bytes (png, jpg, gif, webp),
    else None (SVG, HTML, anything else). Commune logos and banners, and
    editorial images, are checked with it."""
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


def _max_megabytes() -> int:
    """The size cap in whole megabytes, as CKAN's uploader counts it (the
    byte cap itself is checked by `check`)."""
    return max(1, -(-config.editorial_image_max_bytes() // (1024 * 1024)))


def store(upload: Any) -> str:
    """Stores a checked image (`upload`: the uploaded file) through CKAN's
    uploader (an IUploader plugin, e.g. object storage, or the storage
    path) and returns the stored name."""
    if not tk.config.get("ckan.storage_path") and not _has_uploader_plugin():
        raise tk.ValidationError({"image_upload": [tk._(
            "Images cannot be uploaded: the portal has no storage path (ckan.storage_path)")]})
    uploader = ckan_uploader.get_uploader(FOLDER)
    data = {"image": "", "image_upload": upload}
    uploader.update_data_dict(data, "image", "image_upload", "clear_image")
    uploader.upload(_max_megabytes())
    return data["image"]


def remove(name: str) -> None:
    """Deletes a stored image (nothing when there is none)."""
    if not name:
        return
    uploader = ckan_uploader.get_uploader(FOLDER, name)
    data = {"image": name, "clear_image": True}
    uploader.update_data_dict(data, "image", "image_upload", "clear_image")
    uploader.upload(_max_megabytes())


def _has_uploader_plugin() -> bool:
    return any(True for _ in plugins.PluginImplementations(plugins.IUploader))


def url(name: str) -> str:
    """Where a stored image is served."""
    return tk.h.url_for_static(f"/uploads/{FOLDER}/{name}") if name else ""
