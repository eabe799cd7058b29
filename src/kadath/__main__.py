import sys

from kadath.cli import main

sys.exit(main())
