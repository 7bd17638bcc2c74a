import sys

from videonav.agent.cli import main

sys.exit(main())
