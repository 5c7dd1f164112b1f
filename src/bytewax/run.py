"""Run a dataflow from Python code or from the command line.

`cli_main` runs a flow with the same options as `bytewax run`: worker
threads per process, the process id and addresses of a cluster, the
epoch (snapshot) interval and a recovery configuration. It picks a single
worker in the calling thread when one is enough.

Running this module (`python -m bytewax.run app:flow [options]`) is the
same as `bytewax run app:flow [options]`.

"""

from bytewax.bytewax import cli_main
from bytewax.recovery import RecoveryConfig  # noqa: F401  (importable from here, as in 0.18)

__all__ = ["cli_main"]

if __name__ == "__main__":
    import sys

    from bytewax.bytewax import _main

    sys.exit(_main(["bytewax", "run", *sys.argv[1:]]))
