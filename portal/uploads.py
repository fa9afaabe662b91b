"""Uploads kept on disk for the jobs that read them, one folder per kind under ``DATA_DIR``.

A web request only stores the file; the job (possibly on another worker process) reads it by
path, so the path must be one of ours: ``is_stored_upload`` refuses anything else.
"""

import re
from pathlib import Path

from django.conf import settings
from django.utils import timezone


def upload_directory(name: str) -> Path:
    return Path(settings.DATA_DIR) / name


def store_upload(uploaded_file, *, directory: Path, owner: object) -> Path:
    """Write ``uploaded_file`` into ``directory`` under a name no client controls.

    The client's file name is kept only as a sanitised, shortened suffix (for people reading
    the folder); the time and the owner (a person's or a source's id) make the name unique.
    """
    directory.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(uploaded_file.name or "upload").name)[-120:]
    target = directory / f"{timezone.now():%Y%m%dT%H%M%S%f}-{owner}-{safe}"
    with target.open("wb") as out:
        for chunk in uploaded_file.chunks():
            out.write(chunk)
    return target


def is_stored_upload(location: str, *, directory: Path) -> bool:
    """Whether ``location`` is a file stored by ``store_upload`` in ``directory``."""
    try:
        return Path(location).resolve().parent == directory.resolve()
    except OSError:
        return False
