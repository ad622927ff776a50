from mtls_conformance.cli import main

raise SystemExit(main())
