"""`python -m vlgor.interop export|import ...`: what `vlgor export` and `vlgor import` run.

    python -m vlgor.interop export DIR --format minari|lerobot --out OUT
    python -m vlgor.interop import SRC --format minari|lerobot --out DIR

Prints one JSON line on success; a bad input prints the reason on stderr and exits 2.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

from vlgor.interop_common import InteropError


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m vlgor.interop", description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("direction", choices=["export", "import"])
    p.add_argument("src", type=pathlib.Path, help="dataset to read")
    p.add_argument("--format", required=True, choices=["minari", "lerobot"])
    p.add_argument("--out", required=True, type=pathlib.Path, help="directory to create")
    a = p.parse_args(argv)
    try:
        if a.format == "minari":
            from vlgor import minari_io as io
        else:
            from vlgor import lerobot_io as io
        fn = getattr(io, f"{a.direction}_{a.format}")
        print(json.dumps(fn(a.src, a.out)))
        return 0
    except (InteropError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
