from targets.postgres.target import main

main()
