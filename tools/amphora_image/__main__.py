import sys

from tools.amphora_image.cli import main

sys.exit(main())
