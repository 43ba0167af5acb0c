"""`tpr-ws sample`: write a synthetic DHIS2 malaria export (any layout, size, defects) to a file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tpr_ws.domain.sample.generator import DEFECT_NAMES, FORMATS, PRESETS, Defects, generate
from tpr_ws.domain.sample.layout import LAYOUTS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tpr-ws sample", description="Write a synthetic DHIS2 malaria export."
    )
    parser.add_argument("--layout", choices=LAYOUTS, default="A")
    parser.add_argument("--preset", choices=tuple(PRESETS), default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", dest="fmt", choices=FORMATS, default="xlsx")
    defects = parser.add_mutually_exclusive_group()
    defects.add_argument(
        "--defects", default="", help=f"comma-separated, from: {', '.join(DEFECT_NAMES)}"
    )
    defects.add_argument("--all-defects", action="store_true", help="switch on every defect")
    parser.add_argument("-o", "--output", type=Path, help="file to write (default: generated name)")
    return parser


def main(argv: list[str]) -> int:
    """Generate one file; print where it went and how many tidy rows it holds."""
    args = _parser().parse_args(argv)
    names = [n.strip() for n in args.defects.split(",") if n.strip()]
    try:
        defects = Defects.every() if args.all_defects else Defects.of(frozenset(names))
    except ValueError as err:
        print(f"tpr-ws sample: {err}", file=sys.stderr)
        return 2
    made = generate(args.layout, args.preset, args.seed, args.fmt, defects)
    target: Path = args.output or Path(made.file_name)
    target.write_bytes(made.data)
    print(f"wrote {target} ({len(made.data):,} bytes, {len(made.truth):,} facility-month rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
