import sys

from jetbench.cli import main

sys.exit(main())
