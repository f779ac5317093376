import sys

from lokipy.cli.main import main

sys.exit(main())
