"""Small response helpers shared by the portal and admin."""

from io import BytesIO

from flask import send_file


def pdf_response(filename: str, data: bytes, *, download: bool = False):
    """A PDF shown inline in the browser (or downloaded), never cached by shared caches."""
    response = send_file(
        BytesIO(data), mimetype="application/pdf", as_attachment=download, download_name=filename
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
