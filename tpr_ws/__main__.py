"""`python -m tpr_ws ...` is the `tpr-ws` command."""

from tpr_ws.cli import main

raise SystemExit(main())
