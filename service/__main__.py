"""``python -m service`` is the ``aislot-responder`` command."""

import sys

from service.cli import main

sys.exit(main())
