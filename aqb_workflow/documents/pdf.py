"""A plain PDF with a real text layer, written without a PDF library.

A4 pages, Helvetica in WinAnsi encoding (which has ä ö ü ß and €), one text line per line,
long lines wrapped at word boundaries. It is what ``aqb render --format pdf`` writes and
what ``aqb import`` reads back.
"""

from __future__ import annotations

import textwrap

LINES_PER_PAGE = 60
WIDTH = 100  # characters per line at 9 pt Helvetica on A4 with 40 pt margins


def _escape(line: str) -> bytes:
    line = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return line.encode("cp1252", "replace")


def text_pdf(
    text: str, title: str = "", width: int | None = WIDTH, per_page: int = LINES_PER_PAGE
) -> bytes:
    """``text`` as a PDF document (bytes); ``width=None`` keeps every line as it is."""
    lines: list[str] = []
    for line in text.splitlines():
        lines += (textwrap.wrap(line, width, break_on_hyphens=False) if width else [line]) or [""]
    pages = [lines[i : i + per_page] for i in range(0, len(lines), per_page)]
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    }
    kids = []
    for index, page in enumerate(pages or [[]]):
        number = 4 + 2 * index
        kids.append(number)
        body = b"BT /F1 9 Tf 12 TL 40 800 Td\n"
        body += b"".join(b"(" + _escape(line) + b") Tj T*\n" for line in page) + b"ET"
        objects[number] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (number + 1)
        )
        objects[number + 1] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(body), body)
    refs = b" ".join(b"%d 0 R" % k for k in kids)
    objects[2] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (refs, len(kids))
    info = len(objects) + 4 + 2 * len(kids)
    objects[info] = b"<< /Title (" + _escape(title) + b") /Producer (aqb-workflow) >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for number in range(1, size):
        if number in offsets:
            out += b"%010d 00000 n \n" % offsets[number]
        else:
            out += b"0000000000 65535 f \n"
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        size,
        info,
        xref,
    )
    return bytes(out)
