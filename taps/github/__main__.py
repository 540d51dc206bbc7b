from taps.github.tap import main

main()
