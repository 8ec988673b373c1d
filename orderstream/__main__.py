import sys

from orderstream.cli import main

sys.exit(main())
