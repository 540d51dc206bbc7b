from taps.rest.tap import main

main()
