"""``python -m llax.codegen.vecmath [--write] [family ...]``: regenerate coefficient tables.

Prints each family's generated-tables block (a Remez exchange in mpmath per
table; minutes for the degree-20 ones), or with --write rewrites the blocks
in the family modules.  Families are named by module (exp_log, trig, ...).
"""

from __future__ import annotations

import argparse

from llax.codegen.vecmath import FAMILIES
from llax.codegen.vecmath.remez import regenerate


def main(argv: list[str] | None = None) -> None:
    names = {f.__name__.rsplit(".", 1)[1]: f for f in FAMILIES}
    parser = argparse.ArgumentParser(prog="python -m llax.codegen.vecmath",
                                     description="Regenerate vecmath's coefficient tables.")
    parser.add_argument("--write", action="store_true", help="rewrite the modules in place")
    parser.add_argument("family", nargs="*", help=f"default: all of {', '.join(names)}")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.family) - set(names))
    if unknown:
        parser.error(f"unknown families {unknown}; choose from {', '.join(names)}")
    regenerate([names[n] for n in args.family] or FAMILIES, write=args.write)


if __name__ == "__main__":
    main()
