from taps.postgres.tap import main

main()
