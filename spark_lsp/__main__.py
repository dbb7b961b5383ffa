from spark_lsp.cli import main

raise SystemExit(main())
