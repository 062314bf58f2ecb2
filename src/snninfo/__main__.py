from snninfo.cli import main

raise SystemExit(main())
