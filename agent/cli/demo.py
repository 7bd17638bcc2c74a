"""``videonav demo``: serve the gradio page on localhost (see :mod:`videonav.agent.demo.ui`).

Thin on purpose: flags -> ``RunConfig`` (defaults < ``--config`` < ``--set`` < flags) and
``DemoSettings``, then launch. gradio is an optional extra (``videonav[demo]``), so it is imported
only here and the error says what to install.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from videonav.agent.cli.common import add_common, load_run_config


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    add_common(p, store_help="SQLite store; demo files go to <its folder>/demo/")
    p.add_argument("--max-upload-mb", type=float, default=500.0,
                   help="largest accepted upload (default 500 MB)")
    p.add_argument("--sample-minutes", type=float, default=2.0,
                   help="length of the generated sample video (default 2)")
    p.add_argument("--sample", type=Path, help="use this video as the sample instead of generating one")


def main(args: argparse.Namespace) -> int:
    from videonav.agent.demo.app import DemoError, DemoService, DemoSettings

    try:
        from videonav.agent.demo.ui import launch
    except ImportError as e:
        raise DemoError(f"the demo needs gradio ({e}); pip install 'videonav[demo]'") from None
    cfg = load_run_config(args)
    if args.max_upload_mb <= 0:
        raise DemoError("--max-upload-mb must be positive")
    settings = DemoSettings(max_upload_mb=args.max_upload_mb, sample_minutes=args.sample_minutes,
                            sample_video=args.sample)
    svc = DemoService(cfg, settings)
    print(f"videonav demo: http://{args.host}:{args.port}  (store {svc.store_path})", flush=True)
    try:
        launch(svc, args.host, args.port)
    finally:
        svc.close()
    return 0
