"""`python -m mlgate`: the same as the `mlgate` command."""

from mlgate.cli import main

if __name__ == "__main__":  # not again in a worker process that imports this module
    main()
