"""Hand-made PDFs for the written-answer tests (no PDF library needed)."""

from __future__ import annotations

import zlib


def minimal_pdf(page_texts: list[str]) -> bytes:
    """A valid PDF 1.4 with one page per text, each page's text drawn in Helvetica."""
    count = len(page_texts)
    font = 3 + 2 * count
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(count))
        + b"] /Count %d >>" % count,
    ]
    for index, text in enumerate(page_texts):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")
        content = b"BT /F1 12 Tf 72 720 Td (" + escaped + b") Tj ET"
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (4 + 2 * index, font)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return _assemble(objects, b"%PDF-1.4\n")


def object_stream_pdf(pages: int) -> bytes:
    """A PDF 1.5 whose page objects sit in a Flate-compressed object stream (as modern exporters write)."""
    kids = b" ".join(b"%d 0 R" % (10 + i) for i in range(pages))
    packed = [(5, b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages)]
    packed += [(10 + i, b"<< /Type /Page /Parent 5 0 R /MediaBox [0 0 612 792] >>") for i in range(pages)]
    header, body, offset = b"", b"", 0
    for number, data in packed:
        header += b"%d %d " % (number, offset)
        body += data + b"\n"
        offset += len(data) + 1
    raw = header + body
    stream = zlib.compress(raw)
    objects = [
        b"<< /Type /Catalog /Pages 5 0 R >>",
        b"<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n"
        % (len(packed), len(header), len(stream)) + stream + b"\nendstream",
    ]
    return _assemble(objects, b"%PDF-1.5\n")


def _assemble(objects: list[bytes], head: bytes) -> bytes:
    out = bytearray(head)
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
