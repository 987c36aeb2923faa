"""`python -m simulator ...`: the same as the `aislot-simulator` command."""

from simulator.command import main

raise SystemExit(main())
