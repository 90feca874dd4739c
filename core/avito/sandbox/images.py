"""Generated pictures — item photos and avatars as PNG written by hand (no Pillow) — and upload sniffing."""

from __future__ import annotations

import functools
import hashlib
import struct
import zlib

import numpy as np

MAX_UPLOAD = 24 * 1024 * 1024
ITEM_SIZES = (140, 640, 1280)
AVATAR_SIZES = (24, 36, 48, 64, 72, 96, 128, 192, 256)


def _png(rgba: np.ndarray) -> bytes:
    height, width, _ = rgba.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), rgba.reshape(height, width * 4)], axis=1)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def _colour(key: str, lightness: float) -> np.ndarray:
    digest = hashlib.sha256(key.encode()).digest()
    base = np.array(list(digest[:3]), dtype=np.float64)
    return np.clip(base * 0.5 + 255 * lightness * 0.5, 0, 255)


# A bicycle frame as line segments in unit coordinates; the wheels are centred at (0.3, 0.62) and (0.7, 0.62).
_FRAME = (
    ((0.3, 0.62), (0.48, 0.4)),
    ((0.3, 0.62), (0.52, 0.62)),
    ((0.52, 0.62), (0.48, 0.4)),
    ((0.52, 0.62), (0.66, 0.38)),
    ((0.48, 0.4), (0.66, 0.38)),
    ((0.66, 0.38), (0.7, 0.62)),
)


@functools.lru_cache(maxsize=256)
def item_image(item_id: int, size: int) -> bytes:
    """A square picture of a bicycle (two wheels and a frame) on a background coloured by the item id."""
    ys, xs = np.mgrid[0:size, 0:size] / size
    image = np.empty((size, size, 4), np.float64)
    image[..., :3] = _colour(f"item{item_id}", 0.9)
    image[..., 3] = 255
    ink = _colour(f"ink{item_id}", 0.1)
    shape = np.zeros((size, size), bool)
    for cx in (0.3, 0.7):  # wheels
        r = np.hypot(xs - cx, ys - 0.62)
        shape |= (r > 0.14) & (r < 0.17)
    for (x0, y0), (x1, y1) in _FRAME:
        # Distance from each pixel to the segment: a frame tube.
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / (dx * dx + dy * dy), 0, 1)
        shape |= np.hypot(xs - (x0 + t * dx), ys - (y0 + t * dy)) < 0.015
    image[shape, :3] = ink
    return _png(image.astype(np.uint8))


@functools.lru_cache(maxsize=256)
def avatar_image(user_id: int, size: int) -> bytes:
    """A round avatar: a coloured disc with a lighter head-and-shoulders silhouette, transparent outside."""
    ys, xs = np.mgrid[0:size, 0:size] / size
    image = np.zeros((size, size, 4), np.float64)
    disc = np.hypot(xs - 0.5, ys - 0.5) <= 0.5
    image[disc, :3] = _colour(f"user{user_id}", 0.5)
    image[disc, 3] = 255
    head = np.hypot(xs - 0.5, ys - 0.4) < 0.16
    shoulders = (np.hypot((xs - 0.5) / 1.4, ys - 0.95) < 0.3) & disc
    image[head | shoulders, :3] = _colour(f"face{user_id}", 0.95)
    return _png(image.astype(np.uint8))


def image_kind(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data.startswith(b"BM"):
        return "image/bmp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1"):
        return "image/heic"
    return None
