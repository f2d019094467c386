"""``python -m ragpoison``: the same command line as the ``ragpoison`` script."""

import sys

from ragpoison.eval.cli import main

if __name__ == "__main__":
    sys.exit(main())
