"""Only files that came through the app's own upload route may enter the library.

Gradio hands the ``/add_files`` handler whatever ``FileData`` paths a client sends. Gradio 6.31
refuses paths outside its upload folder when it preprocesses an event, but three holes remain,
each closed here at the level where gradio moves the file:

1. The upload folder was the shared ``$TMPDIR/gradio``: any local user, or another gradio app
   (which caches its *outputs* there too), can place files in it, and every path in it counted
   as "uploaded". ``private_upload_dir`` gives each server process its own folder (mode 0700).
2. A URL in ``path`` makes gradio download it server-side. ``upload_only_file`` builds a
   ``gr.File`` whose cache move refuses anything but a file already in the upload folder, before
   any download.
3. The handler copied any path it got. ``UploadGuard`` accepts only the exact files gradio's
   ``/upload`` route received in this process (``Blocks.upload_file_set``), as regular files
   (no symlinks) inside the upload folder.

No gradio import at module level.
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

GRADIO_TEMP_ENV = "GRADIO_TEMP_DIR"
NOT_AN_UPLOAD = (
    "only files uploaded through this page are accepted (a server path or URL is not an upload)"
)
_OWN_DIR: list[str] = []
"""The private folder this process created (so a later app in the same process reuses it)."""


def private_upload_dir() -> Path:
    """Point gradio's upload/cache folder at a fresh 0700 folder owned by this process.

    An operator's own ``GRADIO_TEMP_DIR`` is respected (their choice, documented in the README);
    otherwise the folder is created once per process and removed when the process ends.
    """
    current = os.environ.get(GRADIO_TEMP_ENV)
    if current and (not _OWN_DIR or current != _OWN_DIR[0]):
        return Path(current)
    if _OWN_DIR and Path(_OWN_DIR[0]).is_dir():
        return Path(_OWN_DIR[0])
    path = str(Path(tempfile.mkdtemp(prefix="assistant-uploads-")).resolve())  # mode 0700
    _OWN_DIR[:] = [path]
    os.environ[GRADIO_TEMP_ENV] = path
    atexit.register(shutil.rmtree, path, True)
    return Path(path)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


class UploadGuard:
    """Decides whether a path handed to the upload handler is a file this app received."""

    def __init__(self, upload_dir: Path, received: Callable[[], Collection[str]]) -> None:
        self.upload_dir = Path(os.path.abspath(upload_dir)).resolve()
        self._received = received

    def reason(self, path: Path) -> str | None:
        """Why ``path`` is refused, or None when it came through the upload route."""
        raw = str(path)
        if "://" in raw:
            return NOT_AN_UPLOAD
        absolute = Path(os.path.abspath(raw))
        received = self._received()
        if raw not in received and str(absolute) not in received:
            return NOT_AN_UPLOAD
        try:
            info = absolute.lstat()
        except OSError as exc:
            return f"the uploaded file is gone ({exc.strerror or exc})"
        if not stat.S_ISREG(info.st_mode):
            return NOT_AN_UPLOAD
        if not _inside(absolute.resolve(), self.upload_dir):
            return NOT_AN_UPLOAD
        return None


_FILE_CLASS: list[type] = []


def _upload_only_file_class() -> type:
    """``gr.File`` whose cache move refuses anything that is not already in the upload folder
    (URLs included, before any download). Built once, on first use."""
    if _FILE_CLASS:
        return _FILE_CLASS[0]
    import gradio as gr
    import gradio.component_meta as component_meta
    from gradio.utils import get_upload_folder, is_in_or_equal

    def refuse_unless_uploaded(value: str | Path | None) -> None:
        if value is None:
            return
        text = str(value)
        if "://" in text or not is_in_or_equal(text, get_upload_folder()):
            raise gr.Error(NOT_AN_UPLOAD)

    # gradio writes a .pyi stub beside the module of every component subclass it sees; that
    # would write into the installed package at run time (and fail on a read-only install)
    write_stub = component_meta.create_or_modify_pyi
    component_meta.create_or_modify_pyi = lambda *args, **kwargs: None
    try:

        class UploadOnlyFile(gr.File):
            is_template = True  # the browser renders it as the plain File component

            # the one place gradio turns a FileData path into a cached file (or fetches a URL)
            async def async_move_resource_to_block_cache(
                self, url_or_file_path: str | Path | None
            ) -> str | None:
                refuse_unless_uploaded(url_or_file_path)
                return await super().async_move_resource_to_block_cache(url_or_file_path)

            def move_resource_to_block_cache(
                self, url_or_file_path: str | Path | None
            ) -> str | None:
                refuse_unless_uploaded(url_or_file_path)
                return super().move_resource_to_block_cache(url_or_file_path)

    finally:
        component_meta.create_or_modify_pyi = write_stub
    _FILE_CLASS.append(UploadOnlyFile)
    return UploadOnlyFile


def upload_only_file(**kwargs: Any) -> Any:
    """A ``gr.File`` that accepts only files already in the upload folder (see above)."""
    return _upload_only_file_class()(**kwargs)
