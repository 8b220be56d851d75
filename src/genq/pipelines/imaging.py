"""Social-platform sizes and the Pillow work of the ``image`` pipeline (pure, CPU-bound)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from genq.domain.errors import ProviderError


@dataclass(frozen=True, slots=True)
class Platform:
    """A target size of seed 001."""

    id: str
    name: str
    width: int
    height: int


PLATFORMS: dict[str, Platform] = {
    p.id: p
    for p in (
        Platform("instagram-post", "Instagram Post", 1080, 1080),
        Platform("instagram-story", "Instagram Story", 1080, 1920),
        Platform("twitter-post", "Twitter Post", 1200, 675),
        Platform("facebook-post", "Facebook Post", 1200, 630),
        Platform("linkedin-post", "LinkedIn Post", 1200, 627),
        Platform("youtube-thumbnail", "YouTube Thumbnail", 1280, 720),
    )
}

# Formats genq accepts from a provider, by Pillow's name, with their content type.
ACCEPTED = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


@dataclass(frozen=True, slots=True)
class Inspected:
    """A checked image: its real format and size."""

    content_type: str
    width: int
    height: int
    extension: str


def inspect(data: bytes, declared_type: str | None) -> Inspected:
    """Check that ``data`` is a PNG, JPEG or WebP image (whatever the provider said it was)."""
    from PIL import Image, UnidentifiedImageError

    if declared_type and not declared_type.startswith("image/"):
        raise ProviderError(
            f"the provider's image came as {declared_type!r}, not an image",
            retryable=False,
            details={"content_type": declared_type},
        )
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            fmt, (width, height) = image.format or "", image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ProviderError("the provider's image cannot be decoded", retryable=False) from None
    if fmt not in ACCEPTED:
        raise ProviderError(
            f"the provider's image is {fmt or 'of an unknown format'}; "
            "PNG, JPEG or WebP were expected",
            retryable=False,
        )
    extension = {"JPEG": "jpg"}.get(fmt, fmt.lower())
    return Inspected(ACCEPTED[fmt], width, height, extension)


def cover(data: bytes, width: int, height: int, quality: int = 90) -> bytes:
    """The image scaled to cover ``width`` by ``height`` and centre-cropped (never stretched),
    as a JPEG."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as image:
        rgb = image.convert("RGB")
    fitted = ImageOps.fit(rgb, (width, height), method=Image.Resampling.LANCZOS)
    out = io.BytesIO()
    fitted.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()
