"""Command-line options shared by the verbs that can run on a dask cluster: ``--workers N`` / ``--scheduler``."""

from __future__ import annotations

import argparse


def add_cluster_arguments(p: argparse.ArgumentParser) -> None:
    """``--workers N`` / ``--scheduler tcp://HOST:PORT``: run the Monte Carlo's ranges on a dask cluster."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="run on a local dask cluster of N worker processes (started on 127.0.0.1 and stopped); "
                        "the same numbers as without it")
    g.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="run on an existing dask cluster; the same numbers as without it")


def cluster_kwargs(args: argparse.Namespace) -> dict:
    """The cluster arguments for :mod:`ipabs.api` (checked: dask installed, a sensible worker count)."""
    from ipabs import api

    return api.cluster_arguments(args.scheduler, args.workers)
