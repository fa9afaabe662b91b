#!/usr/bin/env python
"""Django's command-line utility; the `propylon` console script is the same entry point."""

from portal.cli import main

if __name__ == "__main__":
    main()
