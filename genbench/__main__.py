"""``python -m genbench``: the command line, as torchrun starts it (``torchrun ... -m genbench run ...``)."""

from genbench.cli import main

if __name__ == "__main__":
    main()
