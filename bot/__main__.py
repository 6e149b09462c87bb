"""``python -m bot``: see bot.frontends.cli."""

import sys

from bot.frontends.cli import main

sys.exit(main())
