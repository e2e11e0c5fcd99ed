"""Regenerate the gRPC/protobuf code from ``protos/`` into the ``integrations`` package.

One source of truth: ``protos/``. ``--check`` regenerates into a temporary folder and fails
when the checked-in code differs, so stale generated code cannot land.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
OUTPUT_ROOT = ROOT  # protos/integrations/v1/x.proto -> integrations/v1/x_pb2.py
PACKAGE_DIR = "integrations/v1"
HEADER = '"""Generated from protos/ by `python -m devtools.gen_protos`. Do not edit."""\n'


def _plugin(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    found = shutil.which(name) if not candidate.exists() else str(candidate)
    if not found:
        raise SystemExit(f"{name} not found: install the dev extras (pip install -e '.[dev]')")
    return found


def generate(out_root: Path) -> None:
    from grpc_tools import protoc  # dev-only dependency

    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / PACKAGE_DIR).glob("*.proto"))
    include = str(Path(protoc.__file__).parent / "_proto")
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={out_root}",
        f"--grpc_python_out={out_root}",
        f"--mypy_out={out_root}",
        f"--mypy_grpc_out={out_root}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for package in ("integrations", PACKAGE_DIR):
        init = out_root / package / "__init__.py"
        init.write_text(HEADER)
        (out_root / package / "py.typed").write_text("")


def check() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        fresh, current = Path(tmp) / PACKAGE_DIR, OUTPUT_ROOT / PACKAGE_DIR
        names = sorted(p.name for p in fresh.iterdir())
        stale = [
            n for n in names if not (current / n).exists() or not filecmp.cmp(fresh / n, current / n, shallow=False)
        ]
        extra = sorted(p.name for p in current.iterdir() if p.is_file() and p.name not in names)
    if stale or extra:
        print(f"generated code is stale: {stale + extra}; run `python -m devtools.gen_protos`")
        return 1
    print("generated code is up to date")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the checked-in code is stale")
    args = parser.parse_args()
    if args.check:
        return check()
    target = OUTPUT_ROOT / PACKAGE_DIR
    if target.exists():
        shutil.rmtree(target)
    generate(OUTPUT_ROOT)
    print(f"generated {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
