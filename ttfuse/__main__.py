"""`python -m ttfuse ...`: the same command line as the `ttfuse` console script (ttfuse/cli.py)."""

from ttfuse.cli import main

if __name__ == "__main__":
    main(prog_name="ttfuse")
