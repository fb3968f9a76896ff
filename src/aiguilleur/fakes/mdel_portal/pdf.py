"""A tiny writer of valid one-page PDF 1.4 files with a title line, optionally padded to a size.

Enough for the fake portal's cerfas and attachments: readers (pdftoppm, browsers) open them and show the
title. Padding is an image XObject declared in the page resources but never painted, filled with the
caller's bytes (random bytes look like the compressed streams of real PDFs, so zips of these files are as
big as real ones).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["make_pdf"]

_HEADER = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"  # the binary comment tells transfer tools the file is binary


def _literal(text: str) -> bytes:
    """A PDF literal string in WinAnsiEncoding (characters outside cp1252 become '?')."""
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _text_string(text: str) -> bytes:
    """A PDF text string (document information): literal if ASCII, else UTF-16BE with a BOM."""
    if text.isascii():
        return _literal(text)
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


def _assemble(title: str, filler: bytes, creation_date: str) -> bytes:
    content = b"BT /F1 16 Tf 56 780 Td " + _literal(title) + b" Tj ET\n"
    resources = b"/Font << /F1 5 0 R >>"
    if filler:
        resources += b" /XObject << /Im0 7 0 R >>"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << "
        + resources
        + b" >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Title "
        + _text_string(title)
        + b" /Producer (aiguilleur fake portal) /CreationDate "
        + _literal(creation_date)
        + b" >>",
    ]
    if filler:
        # A grey image one pixel high and len(filler) pixels wide: any byte string is a valid raster.
        objects.append(
            b"<< /Type /XObject /Subtype /Image /Width %d /Height 1 /ColorSpace /DeviceGray "
            b"/BitsPerComponent 8 /Length %d >>\nstream\n"
            % (len(filler), len(filler))
            + filler
            + b"\nendstream"
        )
    out = bytearray(_HEADER)
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n" % (len(objects) + 1)
    out += b"0000000000 65535 f\r\n"  # each entry is exactly 20 bytes, EOL included (PDF 1.4 §3.4.3)
    for offset in offsets:
        out += b"%010d 00000 n\r\n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def make_pdf(
    title: str,
    *,
    size_bytes: int = 0,
    filler: Callable[[int], bytes] | None = None,
    creation_date: str = "D:20261124090000+01'00'",
) -> bytes:
    """Return a one-page A4 PDF showing `title`.

    With `size_bytes` larger than the bare file, the result is exactly `size_bytes` long, padded with
    `filler(n)` (default: zero bytes; pass e.g. ``random.Random(seed).randbytes`` for incompressible
    content). A smaller `size_bytes` gives the bare file.
    """
    bare = _assemble(title, b"", creation_date)
    if size_bytes <= len(bare):
        return bare
    fill = filler or bytes
    # The image object costs a fixed overhead plus the digits of its length (twice): start from the
    # overhead of a one-byte image, then correct for the extra digits.
    n = size_bytes - len(_assemble(title, b"\0", creation_date)) + 1
    if n < 1:
        return bare
    for _ in range(4):
        missing = size_bytes - len(_assemble(title, b"\0" * n, creation_date))
        if missing == 0:
            break
        n = max(1, n + missing)
    return _assemble(title, fill(n), creation_date)  # at a digit-count edge it may be a byte off
