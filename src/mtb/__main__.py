from mtb.cli.main import main

main()
