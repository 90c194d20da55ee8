"""Files written atomically get the permissions a plain open() would give, not mkstemp's 0600."""
from __future__ import annotations

import os
import stat
from pathlib import Path

from graphdgm.runtime.files import atomic_write_text


def test_a_new_file_gets_the_umask_mode_and_a_replaced_one_keeps_its_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        p = atomic_write_text(tmp_path / "new.txt", "a")
    finally:
        os.umask(old)
    import graphdgm.runtime.files as files

    assert stat.S_IMODE(os.stat(p).st_mode) == 0o666 & ~files._UMASK
    q = tmp_path / "kept.txt"
    q.write_text("x")
    os.chmod(q, 0o640)
    atomic_write_text(q, "y")
    assert stat.S_IMODE(os.stat(q).st_mode) == 0o640 and q.read_text() == "y"
