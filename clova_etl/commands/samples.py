"""``clova-etl samples OUT_DIR``: write the sample documents (truth embedded) and templates."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "write sample scanned documents (receipts, invoice, form, PDF, TIFF) with their truth"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="folder to write into")


def run(args: argparse.Namespace) -> int:
    """Write the samples and list them."""
    from clova_etl.samples import SAMPLE_SPECS, FontNotFoundError, generate_samples

    try:
        paths = generate_samples(args.out_dir)
    except FontNotFoundError as exc:
        print(f"clova-etl samples: {exc}", file=sys.stderr)
        return 1
    by_file = {spec.filename: spec for spec in SAMPLE_SPECS.values()}
    for path in paths:
        spec = by_file.get(path.name)
        note = (
            f"{spec.api}, lang {spec.lang}"
            + (", table detection" if spec.table_detection else "")
            + f": {spec.description}"
            if spec
            else "template definitions"
        )
        print(f"{path}  ({note})")
    return 0
