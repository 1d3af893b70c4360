import sys

from evoproxy.cli import main

sys.exit(main())
