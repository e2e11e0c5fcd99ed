"""``python -m clients.gallery [--host 127.0.0.1] [--port 8070]`` (console script ``integrations-gallery``).

The gallery acts with its own service token, so whoever reaches it may change integrations of the
projects in ``GALLERY_PROJECTS``: bind it to loopback (the default) or put it behind the platform's
sign-in proxy."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from clients.gallery.app import create_app
from clients.gallery.config import ConfigError, GalleryConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="integrations-gallery", description="The Integration Gallery web page.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8070)
    args = parser.parse_args(argv)
    try:
        config = GalleryConfig.from_env()
    except ConfigError as exc:
        print(f"integrations-gallery: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
