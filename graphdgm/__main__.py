"""``python -m graphdgm ...``: the command line (see :mod:`graphdgm.cli`)."""
from graphdgm.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
