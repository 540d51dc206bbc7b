from targets.sqlite.target import main

main()
