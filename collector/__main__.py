from collector.console import main

main()
