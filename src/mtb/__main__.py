from mtb.cli import main

main()
