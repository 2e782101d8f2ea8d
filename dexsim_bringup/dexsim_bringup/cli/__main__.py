import sys

from dexsim_bringup.cli import main

sys.exit(main())
